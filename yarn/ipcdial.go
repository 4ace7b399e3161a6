package yarn

import (
	"context"
	"errors"
)

// defaultDialer opens connections with the yarn/ipc package.
func defaultDialer(ctx context.Context, spec DialSpec) (Conn, error) {
	return nil, errors.New("yarn: IPC layer not linked yet")
}
