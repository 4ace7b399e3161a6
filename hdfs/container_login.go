package hdfs

import (
	"context"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/yarn/security"
)

// containerKeytab returns the keytab a YARN container of a Kerberized
// deployment was given (KRB5_CLIENT_KTNAME, set by flink-go when
// security.kerberos.login.keytab is shipped), or "" outside such a container.
func containerKeytab(getenv func(string) string, exists func(string) bool) string {
	if getenv(security.TokenFileEnvVariable) == "" {
		return ""
	}
	kt := strings.TrimPrefix(getenv("KRB5_CLIENT_KTNAME"), "FILE:")
	if kt == "" || !exists(kt) {
		return ""
	}
	return kt
}

// newKerberized connects to a Kerberized HDFS from a YARN container or a
// client: with a shipped keytab (containerKeytab) it logs in again from it, as
// Flink's containers do, so a long-running job does not depend on the
// delegation token's lifetime; when that login fails (no krb5.conf on the
// node, KDC unreachable) or there is no keytab, it uses the container's HDFS
// delegation token (UseContainerToken); outside a container, Kerberos as
// configured.
func newKerberized(ctx context.Context, opts Options) (*FileSystem, error) {
	log := zerolog.Ctx(ctx)
	if kt := containerKeytab(os.Getenv, func(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }); kt != "" {
		ko := *opts.Kerberos
		ko.Keytab, ko.Principal, ko.CCache = kt, "", ""
		o := opts
		o.Kerberos = &ko
		f, err := New(ctx, o)
		if err == nil {
			log.Debug().Str("keytab", kt).Msg("hdfs: logged in with the container's keytab")
			return f, nil
		}
		log.Warn().Err(err).Str("keytab", kt).Msg("hdfs: login with the container's keytab failed; using the delegation token")
	}
	if _, err := opts.UseContainerToken(); err != nil {
		return nil, err
	}
	return New(ctx, opts)
}
