package hdfs

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/flink-go/flink-go/yarn/ipc"
)

// KerberosOptions select how to log in to Kerberos. With Keytab set, the
// client logs in as Principal from the keytab (and can renew its tickets
// forever: what long-running jobs need). Otherwise it uses the tickets in a
// credential cache (kinit), which expire.
type KerberosOptions struct {
	// Principal to log in as, "user@REALM" or "user/host@REALM". A missing
	// realm means the krb5.conf default_realm; a missing principal with a
	// keytab means the keytab's first principal.
	Principal string
	// Keytab is the path of a keytab holding Principal's keys. Default:
	// KRB5_CLIENT_KTNAME (MIT's client keytab variable, "FILE:" prefix
	// accepted) when set.
	Keytab string
	// CCache is the credential cache path. Default: KRB5CCNAME (a "FILE:"
	// prefix is accepted), then /tmp/krb5cc_<uid>.
	CCache string
	// Krb5Conf is the krb5.conf path. Default: KRB5_CONFIG, then /etc/krb5.conf.
	Krb5Conf string
	// ServicePrincipal is the NameNode's service principal without the realm,
	// e.g. "nn/_HOST" (dfs.namenode.kerberos.principal); _HOST is replaced by
	// the NameNode's host name.
	ServicePrincipal string
}

// kerberosClient logs in as o describes.
func kerberosClient(o *KerberosOptions) (*krbclient.Client, error) {
	if o.ServicePrincipal == "" {
		return nil, errors.New("hdfs: kerberos: the NameNode service principal is unknown: set dfs.namenode.kerberos.principal in hdfs-site.xml")
	}
	cfgPath := cmp.Or(o.Krb5Conf, os.Getenv("KRB5_CONFIG"), "/etc/krb5.conf")
	cfg, err := krbconfig.Load(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("hdfs: kerberos: load %s (set KRB5_CONFIG?): %w", cfgPath, err)
	}
	ktPath := o.Keytab
	if ktPath == "" {
		ktPath = strings.TrimPrefix(os.Getenv("KRB5_CLIENT_KTNAME"), "FILE:")
	}
	if ktPath != "" {
		kt, err := keytab.Load(ktPath)
		if err != nil {
			return nil, fmt.Errorf("hdfs: kerberos: load keytab %s: %w", ktPath, err)
		}
		principal := o.Principal
		if principal == "" {
			if len(kt.Entries) == 0 {
				return nil, fmt.Errorf("hdfs: kerberos: keytab %s holds no keys", ktPath)
			}
			p := kt.Entries[0].Principal
			principal = strings.Join(p.Components, "/") + "@" + p.Realm
		}
		user, realm, err := SplitPrincipal(principal, cfg.LibDefaults.DefaultRealm)
		if err != nil {
			return nil, err
		}
		cl := krbclient.NewWithKeytab(user, realm, kt, cfg, krbclient.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			return nil, fmt.Errorf("hdfs: kerberos: log in as %s@%s with keytab %s: %w", user, realm, ktPath, err)
		}
		return cl, nil
	}
	cl, err := ipc.CCacheClient(o.CCache, cfg)
	if err != nil {
		return nil, fmt.Errorf("hdfs: kerberos: %w", err)
	}
	return cl, nil
}

// SplitPrincipal splits "name[/instance]@REALM" into name (with instance) and
// realm, using defaultRealm when the principal has none.
func SplitPrincipal(principal, defaultRealm string) (user, realm string, err error) {
	if principal == "" {
		return "", "", errors.New("hdfs: kerberos: a keytab needs a principal to log in as")
	}
	user, realm, found := strings.Cut(principal, "@")
	if !found || realm == "" {
		realm = defaultRealm
	}
	if user == "" || realm == "" {
		return "", "", fmt.Errorf("hdfs: kerberos: principal %q has no realm and krb5.conf names no default_realm", principal)
	}
	return user, realm, nil
}
