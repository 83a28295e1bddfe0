package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kanade-fleet/kanade/internal/apiv1"
)

func (a *app) channelsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "channels", Aliases: []string{"channel"},
		Short: "Notification channels: webhook, Slack, e-mail (admin; secrets are never shown back)"}
	var bound func() (int, error)
	list := &cobra.Command{
		Use:   "list",
		Short: "List notification channels",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.NotificationChannel], error) {
				return c.ListNotificationChannels(ctx, p)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error { return channelsTable(w, rows) })
		},
	}
	bound = pagingFlags(list, 0)

	var in apiv1.NotificationChannelInput
	var smtp apiv1.SMTPInput
	var noStartTLS bool
	add := &cobra.Command{
		Use:   "add <id> --type webhook|slack|email --name N [...]",
		Short: "Add a channel (--secret - or --smtp-password - reads the secret from stdin: argv is visible to other local users)",
		Example: "  kanade channels add ops --type webhook --name Ops --url https://hooks.example.org/kanade --secret - --min-severity warning\n" +
			"  kanade channels add chat --type slack --name Chat --url https://hooks.slack.com/services/…\n" +
			"  kanade channels add mail --type email --name Mail --smtp-host smtp.example.org --smtp-from kanade@example.org --to ops@example.org",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.ID = args[0]
			if in.Type == "" {
				return usagef("--type is required: webhook, slack or email")
			}
			stdin := bufio.NewReader(a.opt.In)
			readSecret := func(v *string) error {
				if *v != "-" {
					return nil
				}
				line, err := stdin.ReadString('\n')
				if err != nil && line == "" {
					return usagef("no secret on stdin")
				}
				*v = strings.TrimRight(line, "\r\n")
				return nil
			}
			if err := readSecret(&in.Secret); err != nil {
				return err
			}
			if in.Type == "email" {
				if err := readSecret(&smtp.Password); err != nil {
					return err
				}
				st := !noStartTLS
				smtp.StartTLS = &st
				in.SMTP = &smtp
			}
			c, err := a.api()
			if err != nil {
				return err
			}
			ch, err := c.CreateNotificationChannel(cmd.Context(), in)
			if err != nil {
				return err
			}
			return a.emitValue(ch, func(w io.Writer) error { return channelsTable(w, []apiv1.NotificationChannel{ch}) })
		},
	}
	f := add.Flags()
	f.StringVar(&in.Type, "type", "", "webhook | slack | email")
	f.StringVar(&in.Name, "name", "", "display name")
	f.StringVar(&in.URL, "url", "", "webhook or Slack incoming-webhook URL")
	f.StringVar(&in.Secret, "secret", "", "webhook HMAC secret (- = read from stdin)")
	f.StringVar(&in.MinSeverity, "min-severity", "", "info | warning | critical (default warning)")
	f.StringSliceVar(&in.Groups, "group", nil, "only PCs in this group (repeatable; none = all PCs)")
	f.StringSliceVar(&in.To, "to", nil, "e-mail recipient (repeatable)")
	f.StringVar(&smtp.Host, "smtp-host", "", "SMTP server")
	f.IntVar(&smtp.Port, "smtp-port", 587, "SMTP port")
	f.StringVar(&smtp.Username, "smtp-username", "", "SMTP user")
	f.StringVar(&smtp.Password, "smtp-password", "", "SMTP password (- = read from stdin)")
	f.StringVar(&smtp.From, "smtp-from", "", "sender address")
	f.BoolVar(&noStartTLS, "no-starttls", false, "send without STARTTLS (a local relay only)")
	f.BoolVar(&smtp.InsecureSkipVerify, "smtp-insecure-skip-verify", false, "accept any SMTP server certificate (still encrypted)")

	rm := &cobra.Command{
		Use:     "rm <id>",
		Aliases: []string{"delete"},
		Short:   "Delete a channel",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			if err := c.DeleteNotificationChannel(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.opt.Out, "channel %s deleted\n", args[0])
			return nil
		},
	}

	var wait time.Duration
	test := &cobra.Command{
		Use:   "test <id>",
		Short: "Send a test notification through the delivery queue (--wait: until its first attempt is recorded)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.api()
			if err != nil {
				return err
			}
			r, err := c.TestNotificationChannel(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if wait <= 0 {
				return a.emitValue(r, func(w io.Writer) error { return kv(w, "delivery_id", r.DeliveryID, "status", "queued") })
			}
			deadline := time.Now().Add(wait)
			for {
				l, err := c.ListNotifications(cmd.Context(), apiv1.NotificationQuery{Channel: args[0], Page: apiv1.Page{Limit: 100}})
				if err != nil {
					return err
				}
				for _, d := range l.Items {
					if d.DeliveryID != r.DeliveryID {
						continue
					}
					if err := a.emitValue(d, func(w io.Writer) error { return notificationsTable(w, a, []apiv1.NotificationDelivery{d}) }); err != nil {
						return err
					}
					if d.Status != "delivered" {
						return fmt.Errorf("test notification %s not delivered (attempt %d): %s; it is retried, see kanade notifications --channel %s",
							r.DeliveryID, d.Attempt, d.Error, args[0])
					}
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("test notification %s queued but no attempt recorded within %s", r.DeliveryID, wait)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(a.opt.PollEvery):
				}
			}
		},
	}
	test.Flags().DurationVar(&wait, "wait", 0, "wait this long for the first attempt and show it (exit 1 unless delivered)")
	cmd.AddCommand(list, add, rm, test)
	return cmd
}

func channelsTable(w io.Writer, rows []apiv1.NotificationChannel) error {
	t := newTable(w, "ID", "NAME", "TYPE", "MIN_SEVERITY", "GROUPS", "DESTINATION", "SECRET")
	for _, c := range rows {
		dest := c.URL
		switch {
		case c.Type == "slack" && c.URLSet:
			dest = "(slack webhook, hidden)"
		case c.SMTP != nil:
			dest = strings.Join(c.To, ",") + " via " + c.SMTP.Host + ":" + strconv.Itoa(c.SMTP.Port)
		}
		secret := "-"
		if c.SecretSet || (c.SMTP != nil && c.SMTP.PasswordSet) {
			secret = "set"
		}
		groups := strings.Join(c.Groups, ",")
		if groups == "" {
			groups = "(all)"
		}
		t.row(c.ID, c.Name, c.Type, c.MinSeverity, groups, dest, secret)
	}
	return t.flush()
}

func (a *app) notificationsCmd() *cobra.Command {
	var q apiv1.NotificationQuery
	var bound func() (int, error)
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "The notification delivery log: one row per attempt, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch q.Status {
			case "", "delivered", "failed", "gave_up":
			default:
				return usagef("--status %q: want delivered, failed or gave_up", q.Status)
			}
			rows, err := listAll(cmd.Context(), a, bound, func(ctx context.Context, c *apiv1.Client, p apiv1.Page) (apiv1.List[apiv1.NotificationDelivery], error) {
				q.Page = p
				return c.ListNotifications(ctx, q)
			})
			if err != nil {
				return err
			}
			return a.emitValue(rows, func(w io.Writer) error { return notificationsTable(w, a, rows) })
		},
	}
	cmd.Flags().StringVar(&q.Channel, "channel", "", "only this channel")
	cmd.Flags().StringVar(&q.Status, "status", "", "delivered | failed | gave_up")
	bound = pagingFlags(cmd, 50)
	return cmd
}

func notificationsTable(w io.Writer, a *app, rows []apiv1.NotificationDelivery) error {
	t := newTable(w, "AT", "CHANNEL", "EVENT", "CHECK", "COUNT", "SEVERITY", "ATTEMPT", "STATUS", "CODE", "DELIVERY", "ERROR")
	for _, d := range rows {
		code := ""
		if d.StatusCode != 0 {
			code = strconv.Itoa(d.StatusCode)
		}
		errText := d.Error
		if len(errText) > 80 {
			errText = errText[:80] + "…"
		}
		t.row(a.when(d.At), d.ChannelID, d.Event, d.CheckID, strconv.Itoa(d.Count), d.Severity, strconv.Itoa(d.Attempt), d.Status, code,
			d.DeliveryID, errText)
	}
	return t.flush()
}
