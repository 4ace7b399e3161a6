package hdfs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"sort"
	"strings"
	"time"

	"github.com/colinmarc/hdfs/v2/hadoopconf"

	"github.com/flink-go/flink-go/yarn/security"
)

// DefaultPort is the NameNode RPC port assumed when a URI or address has none.
const DefaultPort = "8020"

// ErrNoConfig is returned when no Hadoop configuration can be found and none
// was given.
var ErrNoConfig = errors.New("no Hadoop configuration found: is HADOOP_CONF_DIR set?")

// Options configure a FileSystem. Build them with OptionsFromConf (or
// LoadOptions) and adjust fields; the zero value of a field means the
// documented default.
type Options struct {
	// Addresses are the NameNode RPC addresses (host:port), tried in order;
	// several for an HA nameservice. From fs.defaultFS and
	// dfs.namenode.rpc-address[.<nameservice>.<nn>].
	Addresses []string
	// Authority is what fully qualified URIs of this file system carry after
	// "hdfs://": the nameservice id or NameNode host:port. Default: Addresses[0].
	Authority string
	// User is the HDFS user for SIMPLE authentication. Default: DefaultUser()
	// (HADOOP_USER_NAME, then USER: YARN containers run as the NodeManager's
	// account but carry the submitter in USER).
	User string
	// Replication is the replication factor of new files when
	// fs.CreateOptions.Replication is 0. Default: the NameNode's default
	// (dfs.replication on the server).
	Replication int
	// BlockSize of new files when fs.CreateOptions.BlockSize is 0. Default: the
	// NameNode's default (dfs.blocksize on the server).
	BlockSize int64
	// UseDatanodeHostname connects to DataNodes by host name instead of IP
	// (dfs.client.use.datanode.hostname).
	UseDatanodeHostname bool
	// DialTimeout bounds each TCP connect to a NameNode or DataNode. Default 10s.
	DialTimeout time.Duration
	// Kerberos, when set, authenticates with Kerberos (GSSAPI) instead of
	// SIMPLE. OptionsFromConf sets it when hadoop.security.authentication is
	// "kerberos"; fill in Principal and Keytab or CCache.
	Kerberos *KerberosOptions
	// Token, when set, authenticates to the NameNode with this HDFS delegation
	// token (SASL TOKEN/DIGEST-MD5) instead of SIMPLE or Kerberos; User is
	// then the token's owner. This is how YARN containers of a Kerberized
	// cluster reach HDFS: see UseContainerToken.
	Token *security.Token
	// DataTransferProtection is dfs.data.transfer.protection ("",
	// "authentication", "integrity" or "privacy").
	DataTransferProtection string
}

// LoadConf reads core-site.xml and hdfs-site.xml from dir, or, when dir is
// empty, from HADOOP_CONF_DIR (then HADOOP_HOME/conf). It returns ErrNoConfig
// when nothing is found.
func LoadConf(dir string) (hadoopconf.HadoopConf, error) {
	var (
		conf hadoopconf.HadoopConf
		err  error
	)
	if dir == "" {
		conf, err = hadoopconf.LoadFromEnvironment()
		dir = os.Getenv("HADOOP_CONF_DIR")
	} else {
		conf, err = hadoopconf.Load(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("hdfs: read Hadoop configuration %s: %w", dir, err)
	}
	if conf == nil {
		if dir == "" {
			return nil, ErrNoConfig
		}
		return nil, fmt.Errorf("hdfs: no core-site.xml or hdfs-site.xml in %q: %w", dir, ErrNoConfig)
	}
	return conf, nil
}

// LoadOptions is LoadConf followed by OptionsFromConf. On a Kerberized
// cluster it then prefers the container's HDFS delegation token, if the
// process runs in a YARN container that has one (UseContainerToken).
func LoadOptions(dir string) (Options, error) {
	conf, err := LoadConf(dir)
	if err != nil {
		return Options{}, err
	}
	o, err := OptionsFromConf(conf)
	if err != nil {
		return o, err
	}
	if o.Kerberos != nil {
		if _, err := o.UseContainerToken(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// OptionsFromConf derives Options from a Hadoop configuration.
func OptionsFromConf(conf hadoopconf.HadoopConf) (Options, error) {
	o := Options{User: DefaultUser()}
	defaultFS := conf["fs.defaultFS"]
	if defaultFS == "" {
		defaultFS = conf["fs.default.name"]
	}
	authority := ""
	if strings.HasPrefix(defaultFS, "hdfs://") {
		authority = strings.TrimSuffix(strings.TrimPrefix(defaultFS, "hdfs://"), "/")
		if i := strings.IndexByte(authority, '/'); i >= 0 {
			authority = authority[:i]
		}
	}
	if authority != "" {
		o.Addresses = ResolveAuthority(conf, authority)
		o.Authority = authority
	} else if a := conf["dfs.namenode.rpc-address"]; a != "" {
		o.Addresses = []string{a}
	} else {
		for _, a := range conf.Namenodes() { // every dfs.namenode.rpc-address.*
			if a != "" {
				o.Addresses = append(o.Addresses, a)
			}
		}
	}
	if len(o.Addresses) == 0 {
		return o, fmt.Errorf("hdfs: the configuration names no NameNode (fs.defaultFS=%q, no dfs.namenode.rpc-address): %w", defaultFS, ErrNoConfig)
	}
	o.UseDatanodeHostname = conf["dfs.client.use.datanode.hostname"] == "true"
	if strings.EqualFold(conf["hadoop.security.authentication"], "kerberos") {
		o.Kerberos = &KerberosOptions{
			ServicePrincipal: strings.SplitN(conf["dfs.namenode.kerberos.principal"], "@", 2)[0],
		}
	}
	prot := strings.Split(strings.ToLower(conf["dfs.data.transfer.protection"]), ",")
	sort.Strings(prot) // authentication < integrity < privacy: keep the strongest
	for _, p := range prot {
		if p = strings.TrimSpace(p); p != "" {
			o.DataTransferProtection = p
		}
	}
	if strings.EqualFold(conf["dfs.encrypt.data.transfer"], "true") {
		o.DataTransferProtection = "privacy"
	}
	return o, nil
}

// ResolveAuthority turns the authority of an hdfs:// URI into NameNode
// addresses: an HA nameservice id (listed in dfs.nameservices) becomes the
// rpc addresses of its NameNodes; host or host:port becomes itself, with the
// default port 8020 added when missing.
func ResolveAuthority(conf hadoopconf.HadoopConf, authority string) []string {
	for _, ns := range strings.Split(conf["dfs.nameservices"], ",") {
		if ns = strings.TrimSpace(ns); ns == "" || ns != authority {
			continue
		}
		var addrs []string
		for _, nn := range strings.Split(conf["dfs.ha.namenodes."+ns], ",") {
			if a := conf["dfs.namenode.rpc-address."+ns+"."+strings.TrimSpace(nn)]; a != "" {
				addrs = append(addrs, a)
			}
		}
		if a := conf["dfs.namenode.rpc-address."+ns]; len(addrs) == 0 && a != "" {
			addrs = append(addrs, a)
		}
		if len(addrs) > 0 {
			return addrs
		}
	}
	if _, _, err := net.SplitHostPort(authority); err != nil {
		return []string{net.JoinHostPort(authority, DefaultPort)}
	}
	return []string{authority}
}

// DefaultUser is the HDFS user for SIMPLE authentication: HADOOP_USER_NAME,
// then USER, then LOGNAME, and only when none is set the OS account (as
// Hadoop's own client does). YARN containers always have USER set to the
// submitter, so they never fall through to the NodeManager's account.
func DefaultUser() string {
	for _, k := range []string{"HADOOP_USER_NAME", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
