package auth

import "testing"

func TestIPv6ThrottleKey(t *testing.T) {
	if a, b := throttleKey("2001:db8::1"), throttleKey("2001:db8::ffff"); a != b {
		t.Errorf("same /64 differs: %s %s", a, b)
	}
	if throttleKey("192.0.2.1") == throttleKey("192.0.2.2") {
		t.Error("IPv4 addresses merged")
	}
}
