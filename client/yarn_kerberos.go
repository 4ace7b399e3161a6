package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/flink-go/flink-go/am"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/hdfs"
	"github.com/flink-go/flink-go/yarn"
	"github.com/flink-go/flink-go/yarn/ipc"
	"github.com/flink-go/flink-go/yarn/security"
)

// Environment of the AM and TaskManager containers of a Kerberized deployment
// (docs/kerberos.md).
const (
	// EnvKerberosKeytab is the shipped keytab's name in the container's work
	// dir (yarn.security.kerberos.localized-keytab-path), set when a keytab is shipped.
	EnvKerberosKeytab = am.EnvKerberosKeytab
	// EnvKerberosPrincipal is the principal of the shipped keytab.
	EnvKerberosPrincipal = am.EnvKerberosPrincipal
	// krb5ConfLink is the shipped krb5.conf's name in the container.
	krb5ConfLink = am.Krb5ConfName
)

// Errors of a Kerberos login, for errors.Is; the messages name the fix.
var (
	// ErrNoKerberosCredentials: neither a keytab nor a usable ticket cache.
	ErrNoKerberosCredentials = errors.New("no Kerberos credentials: kinit first, or set security.kerberos.login.keytab and security.kerberos.login.principal")
	// ErrKerberosPrincipal: the KDC does not know the principal, or the keytab holds no key for it.
	ErrKerberosPrincipal = errors.New("Kerberos principal rejected (check security.kerberos.login.principal against the keytab: klist -kt <keytab>)")
	// ErrKDCUnreachable: no KDC of the realm answered.
	ErrKDCUnreachable = errors.New("Kerberos KDC unreachable (check the realm's kdc entries in krb5.conf, security.kerberos.krb5-conf.path or KRB5_CONFIG)")
)

// KerberosLogin says how the client logs in to Kerberos: from a keytab
// (security.kerberos.login.keytab + .principal), else from the ticket cache
// (kinit; security.kerberos.login.use-ticket-cache).
type KerberosLogin struct {
	// Keytab and Principal: a keytab login (Principal may be empty: the
	// keytab's first principal).
	Keytab, Principal string
	// CCache is the ticket cache of a ticket-cache login.
	CCache string
	// Krb5Conf is the krb5.conf in use (security.kerberos.krb5-conf.path,
	// KRB5_CONFIG, /etc/krb5.conf); Krb5ConfConfigured says the user named it
	// with security.kerberos.krb5-conf.path (then it is shipped).
	Krb5Conf           string
	Krb5ConfConfigured bool
}

// ResolveKerberosLogin decides how to log in from the configuration (nil: the
// environment only) and the environment, without touching the KDC. exists
// reports whether a file exists (os.Stat in production). Order, as Flink:
// security.kerberos.login.keytab; then KRB5_CLIENT_KTNAME (MIT's client
// keytab); then the ticket cache (KRB5CCNAME, else /tmp/krb5cc_<uid>) unless
// security.kerberos.login.use-ticket-cache is false.
func ResolveKerberosLogin(conf *configs.Configuration, getenv func(string) string, exists func(string) bool) (KerberosLogin, error) {
	var l KerberosLogin
	useCache := true
	if conf != nil {
		l.Keytab = configs.Get(conf, configs.KerberosKeytab)
		l.Principal = configs.Get(conf, configs.KerberosPrincipal)
		useCache = configs.Get(conf, configs.KerberosUseTicketCache)
		if p := configs.Get(conf, configs.KerberosKrb5Conf); p != "" {
			l.Krb5Conf, l.Krb5ConfConfigured = p, true
		}
	}
	if l.Krb5Conf == "" {
		l.Krb5Conf = cmp.Or(getenv("KRB5_CONFIG"), "/etc/krb5.conf")
	}
	if l.Krb5Conf != "" && !exists(l.Krb5Conf) {
		if l.Krb5ConfConfigured {
			return l, fmt.Errorf("%s=%s: no such file", configs.KerberosKrb5Conf.Key(), l.Krb5Conf)
		}
		return l, fmt.Errorf("krb5.conf %s does not exist: set %s or KRB5_CONFIG", l.Krb5Conf, configs.KerberosKrb5Conf.Key())
	}
	if l.Keytab != "" {
		if !filepath.IsAbs(l.Keytab) {
			return l, fmt.Errorf("%s=%s must be an absolute path", configs.KerberosKeytab.Key(), l.Keytab)
		}
		if !exists(l.Keytab) {
			return l, fmt.Errorf("%s=%s: no such file", configs.KerberosKeytab.Key(), l.Keytab)
		}
		if l.Principal == "" {
			return l, fmt.Errorf("%s is set but %s is not: name the keytab's principal", configs.KerberosKeytab.Key(), configs.KerberosPrincipal.Key())
		}
		return l, nil
	}
	if kt := strings.TrimPrefix(getenv("KRB5_CLIENT_KTNAME"), "FILE:"); kt != "" && exists(kt) {
		l.Keytab = kt // principal: the keytab's first
		return l, nil
	}
	if !useCache {
		return l, fmt.Errorf("%w (%s is false and no keytab is configured)", ErrNoKerberosCredentials, configs.KerberosUseTicketCache.Key())
	}
	l.CCache = strings.TrimPrefix(getenv("KRB5CCNAME"), "FILE:")
	if l.CCache == "" {
		l.CCache = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	if !exists(l.CCache) {
		return l, fmt.Errorf("%w (no ticket cache at %s)", ErrNoKerberosCredentials, l.CCache)
	}
	return l, nil
}

// String describes the login for messages.
func (l KerberosLogin) String() string {
	if l.Keytab != "" {
		p := l.Principal
		if p == "" {
			p = "its first principal"
		}
		return fmt.Sprintf("keytab %s as %s", l.Keytab, p)
	}
	return "ticket cache " + l.CCache
}

// Login logs in to the KDC (keytab) or loads the ticket cache, and returns
// the logged-in client. Errors wrap ErrKDCUnreachable, ErrKerberosPrincipal
// or ErrNoKerberosCredentials when the cause is one of those.
func (l KerberosLogin) Login() (*krbclient.Client, error) {
	cfg, err := krbconfig.Load(l.Krb5Conf)
	if err != nil {
		return nil, fmt.Errorf("kerberos: load krb5.conf %s: %w", l.Krb5Conf, err)
	}
	if l.Keytab != "" {
		kt, err := keytab.Load(l.Keytab)
		if err != nil {
			return nil, fmt.Errorf("kerberos: load keytab %s: %w", l.Keytab, err)
		}
		principal := l.Principal
		if principal == "" {
			if len(kt.Entries) == 0 {
				return nil, fmt.Errorf("kerberos: keytab %s holds no keys", l.Keytab)
			}
			p := kt.Entries[0].Principal
			principal = strings.Join(p.Components, "/") + "@" + p.Realm
		}
		user, realm, err := hdfs.SplitPrincipal(principal, cfg.LibDefaults.DefaultRealm)
		if err != nil {
			return nil, err
		}
		cl := krbclient.NewWithKeytab(user, realm, kt, cfg, krbclient.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			return nil, classifyKerberosError(fmt.Sprintf("log in as %s@%s with keytab %s", user, realm, l.Keytab), err)
		}
		return cl, nil
	}
	cc, err := credentials.LoadCCache(l.CCache)
	if err != nil {
		return nil, fmt.Errorf("%w: ticket cache %s unreadable: %w", ErrNoKerberosCredentials, l.CCache, err)
	}
	cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, fmt.Errorf("%w: ticket cache %s (expired? run kinit): %w", ErrNoKerberosCredentials, l.CCache, err)
	}
	return cl, nil
}

// classifyKerberosError wraps a gokrb5 login error with the sentinel of its
// cause: KDC_ERR_C_PRINCIPAL_UNKNOWN / PREAUTH_FAILED → ErrKerberosPrincipal,
// network failures to the KDC → ErrKDCUnreachable.
func classifyKerberosError(what string, err error) error {
	msg := err.Error()
	var ne net.Error
	switch {
	case strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN"), strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED"),
		strings.Contains(msg, "KDC_ERR_CLIENT_REVOKED"), strings.Contains(msg, "does not contain any keys"),
		strings.Contains(msg, "matching key not found in keytab"):
		return fmt.Errorf("kerberos: %s: %w: %w", what, ErrKerberosPrincipal, err)
	case errors.As(err, &ne), strings.Contains(msg, "networking_error"), strings.Contains(msg, "failed to communicate with KDC"),
		strings.Contains(msg, "connection refused"), strings.Contains(msg, "no KDC"), strings.Contains(msg, "i/o timeout"):
		return fmt.Errorf("kerberos: %s: %w: %w", what, ErrKDCUnreachable, err)
	}
	return fmt.Errorf("kerberos: %s: %w", what, err)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// kerberosSession is a deployer's Kerberos identity: how it logged in and the
// logged-in client the RM and NameNode connections share.
type kerberosSession struct {
	login  KerberosLogin
	client *krbclient.Client
}

// loginKerberos resolves and performs the login for conf (nil: the environment).
func loginKerberos(conf *configs.Configuration) (*kerberosSession, error) {
	l, err := ResolveKerberosLogin(conf, os.Getenv, fileExists)
	if err != nil {
		if conf == nil && errors.Is(err, ErrNoKerberosCredentials) {
			// ConnectYarn without the configuration: -D security.kerberos.login.* is not seen yet.
			err = fmt.Errorf("%w; this connection logs in from the environment only: kinit, or export KRB5_CLIENT_KTNAME=<keytab>", err)
		}
		return nil, fmt.Errorf("the cluster uses Kerberos (hadoop.security.authentication=kerberos): %w", err)
	}
	cl, err := l.Login()
	if err != nil {
		return nil, fmt.Errorf("the cluster uses Kerberos (hadoop.security.authentication=kerberos): %w", err)
	}
	return &kerberosSession{login: l, client: cl}, nil
}

// rmDialer makes the RM connection authenticate with the session's client.
func (k *kerberosSession) rmDialer() yarn.Option {
	kc := &ipc.KerberosConfig{Client: k.client}
	return yarn.WithDialer(func(ctx context.Context, spec yarn.DialSpec) (yarn.Conn, error) {
		if spec.Kerberos && spec.KerberosConfig == nil {
			spec.KerberosConfig = kc
		}
		return yarn.DialIPC(ctx, spec)
	})
}

// hdfsOptions fills in the Kerberos part of HDFS options for this login.
func (k *kerberosSession) hdfsOptions(o *hdfs.KerberosOptions) {
	o.Principal = k.login.Principal
	o.Keytab = k.login.Keytab
	o.CCache = k.login.CCache
	o.Krb5Conf = k.login.Krb5Conf
}

// ConnectYarnConf is ConnectYarn with the effective configuration: on a
// Kerberized cluster it logs in as conf's security.kerberos.login.* keys say
// (ConnectYarn alone uses KRB5_CLIENT_KTNAME or the ticket cache).
func ConnectYarnConf(ctx context.Context, out io.Writer, conf *configs.Configuration) (*YarnDeployer, error) {
	return connectYarn(ctx, out, conf)
}

// useKerberosConf switches the deployer to the login conf asks for, when it
// names a keytab other than the one in use: the RM connection is re-opened
// and the HDFS connection dropped (re-made on demand).
func (d *YarnDeployer) useKerberosConf(ctx context.Context, conf *configs.Configuration) error {
	if !d.YarnConf.Kerberos || conf == nil {
		return nil
	}
	kt := configs.Get(conf, configs.KerberosKeytab)
	if kt == "" || (d.krb != nil && d.krb.login.Keytab == kt && d.krb.login.Principal == configs.Get(conf, configs.KerberosPrincipal)) {
		return nil
	}
	k, err := loginKerberos(conf)
	if err != nil {
		return err
	}
	rm, err := yarn.NewClientRM(ctx, d.YarnConf, k.rmDialer())
	if err != nil {
		return fmt.Errorf("%w: %w", ErrYarnUnreachable, err)
	}
	if d.RM != nil {
		d.RM.Close()
	}
	if d.FS != nil {
		d.FS.Close()
		d.FS = nil
	}
	d.RM, d.krb = rm, k
	return nil
}

// RMPrincipal is yarn.resourcemanager.principal with _HOST replaced by the
// host of the first RM address, as Hadoop's Master.getMasterPrincipal does:
// the renewer of the delegation tokens handed to YARN.
func RMPrincipal(yc yarn.Config) (string, error) {
	p := yc.RMPrincipal
	if p == "" {
		return "", errors.New("yarn.resourcemanager.principal is not set in yarn-site.xml: it is the renewer of the delegation tokens the application needs")
	}
	if strings.Contains(p, "_HOST") {
		if len(yc.RMAddresses) == 0 {
			return "", errors.New("yarn.resourcemanager.principal contains _HOST but no RM address is configured")
		}
		host, _, err := net.SplitHostPort(yc.RMAddresses[0])
		if err != nil {
			return "", fmt.Errorf("RM address %q: %w", yc.RMAddresses[0], err)
		}
		p = strings.ReplaceAll(p, "_HOST", strings.ToLower(host))
	}
	return p, nil
}

// kerberosAM is what a Kerberized deployment adds to the AM container: the
// serialized credentials, files to stage (keytab, krb5.conf) and environment.
type kerberosAM struct {
	tokens []byte
	files  []stagedFile
	env    map[string]string
	// summary for the progress output
	summary string
}

// prepareKerberosAM obtains the HDFS delegation token (renewer: the RM) and
// decides what to ship, as Flink's YarnClusterDescriptor does for secured
// clusters.
func (d *YarnDeployer) prepareKerberosAM(ctx context.Context, conf *configs.Configuration) (*kerberosAM, error) {
	if d.krb == nil {
		return nil, errors.New("internal: Kerberized cluster without a login")
	}
	out := &kerberosAM{env: map[string]string{}}
	creds := &security.Credentials{}
	var got []string
	if configs.Get(conf, configs.DelegationTokensEnabled) {
		renewer, err := RMPrincipal(d.YarnConf)
		if err != nil {
			return nil, err
		}
		opts, err := hdfs.OptionsFromConf(map[string]string(d.Hadoop))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrHDFSUnavailable, err)
		}
		if opts.Kerberos == nil {
			return nil, errors.New("yarn-site.xml says Kerberos but core-site.xml does not (hadoop.security.authentication): the configuration is inconsistent")
		}
		d.krb.hdfsOptions(opts.Kerberos)
		tok, err := hdfs.GetDelegationToken(ctx, opts, d.krb.client, renewer)
		if err != nil {
			return nil, fmt.Errorf("obtaining the HDFS delegation token for the containers: %w", err)
		}
		creds.AddToken(tok.Service, tok)
		got = append(got, fmt.Sprintf("%s for %s (renewer %s)", tok.Kind, tok.Service, renewer))
	}
	out.tokens = creds.MarshalContainerTokens()
	if d.krb.login.Keytab != "" && configs.Get(conf, configs.YarnKerberosShipLocalKeytab) && configs.Get(conf, configs.KerberosKeytab) != "" {
		name := configs.Get(conf, configs.YarnKerberosLocalizedKeytabPath)
		if name == "" || strings.Contains(name, "/") || name == configJSONName {
			return nil, fmt.Errorf("%s=%q must be a plain file name", configs.YarnKerberosLocalizedKeytabPath.Key(), name)
		}
		out.files = append(out.files, stagedFile{link: name, local: d.krb.login.Keytab, perm: 0o600, private: true})
		out.env[EnvKerberosKeytab] = name
		out.env[EnvKerberosPrincipal] = d.krb.login.Principal
		// The AM (and, through am.KerberosEnv, its TaskManagers) log in to HDFS with it again
		// (hdfs: container keytab before the delegation token).
		out.env[am.EnvKrb5ClientKeytab] = "{{PWD}}/" + name
		got = append(got, "keytab as "+name)
	}
	if d.krb.login.Krb5ConfConfigured {
		out.files = append(out.files, stagedFile{link: krb5ConfLink, local: d.krb.login.Krb5Conf, perm: 0o644})
		out.env[am.EnvKrb5Config] = "{{PWD}}/" + krb5ConfLink
		got = append(got, "krb5.conf")
	}
	if len(got) == 0 {
		return nil, fmt.Errorf("%s is false and no keytab is shipped: the containers would have no credentials for the Kerberized cluster", configs.DelegationTokensEnabled.Key())
	}
	out.summary = strings.Join(got, ", ")
	return out, nil
}
