package brokerid

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// PushAccount sends an updated account JWT (after Revoke) to the servers
// over a connection of a system-account user (IssueSystem). Every server
// of a cluster applies it: a full resolver stores it, and revoked users'
// connections are closed at once. The first answer is returned; an
// embedded server answers the same way.
func PushAccount(nc *nats.Conn, accountJWT string, timeout time.Duration) error {
	ac, err := jwt.DecodeAccountClaims(accountJWT)
	if err != nil {
		return fmt.Errorf("push account: %w", err)
	}
	msg, err := nc.Request(fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", ac.Subject), []byte(accountJWT), timeout)
	if err != nil {
		return fmt.Errorf("push account %s (%s): %w", ac.Name, ac.Subject, err)
	}
	var resp struct {
		Data *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"data"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fmt.Errorf("push account %s: bad answer %q: %w", ac.Name, msg.Data, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("push account %s: server refused: %s (%d)", ac.Name, resp.Error.Description, resp.Error.Code)
	}
	if resp.Data == nil {
		return fmt.Errorf("push account %s: empty answer %q", ac.Name, msg.Data)
	}
	return nil
}
