package apiv1

import (
	"context"
	"net/http"
)

// LoginMFA is POST /api/auth/mfa.
func (c *Client) LoginMFA(ctx context.Context, r MFALoginRequest) (LoginResponse, error) {
	return send[LoginResponse](ctx, c, http.MethodPost, "/api/auth/mfa", r)
}

// EnrollMFA is POST /api/auth/mfa/enroll.
func (c *Client) EnrollMFA(ctx context.Context) (MFAEnrollment, error) {
	return send[MFAEnrollment](ctx, c, http.MethodPost, "/api/auth/mfa/enroll", nil)
}

// ConfirmMFA is POST /api/auth/mfa/confirm.
func (c *Client) ConfirmMFA(ctx context.Context, r MFACodeRequest) (MFAConfirmResponse, error) {
	return send[MFAConfirmResponse](ctx, c, http.MethodPost, "/api/auth/mfa/confirm", r)
}

// DisableMFA is DELETE /api/auth/mfa.
func (c *Client) DisableMFA(ctx context.Context, r MFACodeRequest) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/auth/mfa", nil, r, nil)
	return err
}

// GetMFAPolicy is GET /api/auth/mfa/policy.
func (c *Client) GetMFAPolicy(ctx context.Context) (MFAPolicy, error) {
	return get[MFAPolicy](ctx, c, "/api/auth/mfa/policy", nil)
}

// PutMFAPolicy is PUT /api/auth/mfa/policy.
func (c *Client) PutMFAPolicy(ctx context.Context, r MFAPolicy) (MFAPolicy, error) {
	return send[MFAPolicy](ctx, c, http.MethodPut, "/api/auth/mfa/policy", r)
}

// ResetAccountMFA is DELETE /api/accounts/{username}/mfa.
func (c *Client) ResetAccountMFA(ctx context.Context, username string) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/accounts/"+esc(username)+"/mfa", nil, nil, nil)
	return err
}
