package yarn

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Default ports of the RM protocols (YarnConfiguration).
const (
	DefaultRMPort          = 8032
	DefaultSchedulerPort   = 8030
	defaultRMHostnameValue = "0.0.0.0"
)

// Hadoop configuration keys read by this package.
const (
	KeyRMHostname       = "yarn.resourcemanager.hostname"
	KeyRMAddress        = "yarn.resourcemanager.address"
	KeySchedulerAddress = "yarn.resourcemanager.scheduler.address"
	KeyRMHAEnabled      = "yarn.resourcemanager.ha.enabled"
	KeyRMHAIDs          = "yarn.resourcemanager.ha.rm-ids"
	KeyRMPrincipal      = "yarn.resourcemanager.principal"
	KeySecurityAuth     = "hadoop.security.authentication"
	KeyDefaultFS        = "fs.defaultFS"
)

// ErrNoConfig is returned when no Hadoop configuration directory can be found.
var ErrNoConfig = errors.New("yarn: no Hadoop configuration found (set HADOOP_CONF_DIR or YARN_CONF_DIR to the directory holding yarn-site.xml and core-site.xml)")

// HadoopConf is a flat set of Hadoop configuration properties merged from *-site.xml files (later
// files override earlier ones, as Hadoop's Configuration.addResource).
type HadoopConf map[string]string

// confFiles are read in this order from each directory; later values win.
var confFiles = []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"}

// LoadHadoopConf reads core-site.xml, hdfs-site.xml and yarn-site.xml from each directory (those
// present). It fails when none of the directories holds any of the files.
func LoadHadoopConf(dirs ...string) (HadoopConf, error) {
	conf := HadoopConf{}
	found := 0
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		for _, name := range confFiles {
			path := filepath.Join(dir, name)
			data, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("yarn: read Hadoop config %s: %w", path, err)
			}
			if err := conf.parseXML(data); err != nil {
				return nil, fmt.Errorf("yarn: parse Hadoop config %s: %w", path, err)
			}
			found++
		}
	}
	if found == 0 {
		return nil, fmt.Errorf("%w; looked in %q", ErrNoConfig, dirs)
	}
	return conf, nil
}

// ConfDirsFromEnv returns the configuration directories named by the environment, in increasing
// priority: $HADOOP_HOME/etc/hadoop, $HADOOP_CONF_DIR, $YARN_CONF_DIR.
func ConfDirsFromEnv() []string {
	var dirs []string
	if h := os.Getenv("HADOOP_HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, "etc", "hadoop"))
	}
	for _, env := range []string{"HADOOP_CONF_DIR", "YARN_CONF_DIR"} {
		if d := os.Getenv(env); d != "" && !contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// LoadHadoopConfFromEnv is LoadHadoopConf(ConfDirsFromEnv()...).
func LoadHadoopConfFromEnv() (HadoopConf, error) {
	dirs := ConfDirsFromEnv()
	if len(dirs) == 0 {
		return nil, ErrNoConfig
	}
	return LoadHadoopConf(dirs...)
}

type xmlConfiguration struct {
	Properties []struct {
		Name  string `xml:"name"`
		Value string `xml:"value"`
	} `xml:"property"`
}

func (c HadoopConf) parseXML(data []byte) error {
	var doc xmlConfiguration
	if err := xml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("not a Hadoop <configuration> XML file: %w", err)
	}
	for _, p := range doc.Properties {
		name := strings.TrimSpace(p.Name)
		if name == "" {
			continue
		}
		c[name] = strings.TrimSpace(p.Value)
	}
	return nil
}

var varRef = regexp.MustCompile(`\$\{([^}$]+)\}`)

// Get returns a property with ${name} references expanded (from other properties, then from the
// environment as ${env.NAME}), as Hadoop's Configuration.get does; def when the key is unset.
func (c HadoopConf) Get(key, def string) string {
	v, ok := c[key]
	if !ok {
		return def
	}
	for i := 0; i < 20 && strings.Contains(v, "${"); i++ {
		nv := varRef.ReplaceAllStringFunc(v, func(m string) string {
			name := m[2 : len(m)-1]
			if env, ok := strings.CutPrefix(name, "env."); ok {
				if e, ok := os.LookupEnv(env); ok {
					return e
				}
				return m
			}
			if r, ok := c[name]; ok {
				return r
			}
			if name == KeyRMHostname {
				return defaultRMHostnameValue
			}
			return m
		})
		if nv == v {
			break
		}
		v = nv
	}
	return v
}

// Config is the cluster connection configuration for the YARN clients.
type Config struct {
	// RMAddresses are the client-protocol (ApplicationClientProtocol) addresses of the
	// ResourceManager(s), host:port, in HA rm-id order (one entry without HA).
	RMAddresses []string
	// SchedulerAddresses are the ApplicationMasterProtocol addresses, in the same order.
	SchedulerAddresses []string
	// Kerberos is true when hadoop.security.authentication is "kerberos".
	Kerberos bool
	// RMPrincipal is yarn.resourcemanager.principal (with _HOST unreplaced), for Kerberos.
	RMPrincipal string
	// DefaultFS is fs.defaultFS (e.g. hdfs://namenode:8020), empty when unset.
	DefaultFS string
	// User is the identity used for SIMPLE authentication: $HADOOP_USER_NAME, else $USER.
	User string
}

// ConfigFromHadoop resolves the RM and scheduler addresses (with HA rm-ids), the security mode and
// the default file system from Hadoop properties.
func ConfigFromHadoop(c HadoopConf) (Config, error) {
	cfg := Config{
		RMPrincipal: c.Get(KeyRMPrincipal, ""),
		DefaultFS:   c.Get(KeyDefaultFS, ""),
		User:        UserFromEnv(),
	}
	switch auth := strings.ToLower(c.Get(KeySecurityAuth, "simple")); auth {
	case "simple", "":
	case "kerberos":
		cfg.Kerberos = true
	default:
		return Config{}, fmt.Errorf("yarn: %s=%q is not supported (want simple or kerberos)", KeySecurityAuth, auth)
	}
	if strings.EqualFold(c.Get(KeyRMHAEnabled, "false"), "true") {
		ids := splitList(c.Get(KeyRMHAIDs, ""))
		if len(ids) == 0 {
			return Config{}, fmt.Errorf("yarn: %s=true but %s is empty; list the RM ids (e.g. rm1,rm2)", KeyRMHAEnabled, KeyRMHAIDs)
		}
		for _, id := range ids {
			rm, err := haAddress(c, KeyRMAddress, id, DefaultRMPort)
			if err != nil {
				return Config{}, err
			}
			sched, err := haAddress(c, KeySchedulerAddress, id, DefaultSchedulerPort)
			if err != nil {
				return Config{}, err
			}
			cfg.RMAddresses = append(cfg.RMAddresses, rm)
			cfg.SchedulerAddresses = append(cfg.SchedulerAddresses, sched)
		}
		return cfg, nil
	}
	host := c.Get(KeyRMHostname, defaultRMHostnameValue)
	rm, err := normalizeAddress(c.Get(KeyRMAddress, ""), host, DefaultRMPort, KeyRMAddress)
	if err != nil {
		return Config{}, err
	}
	sched, err := normalizeAddress(c.Get(KeySchedulerAddress, ""), host, DefaultSchedulerPort, KeySchedulerAddress)
	if err != nil {
		return Config{}, err
	}
	cfg.SchedulerAddresses = []string{replaceWildcardHost(sched, rm)}
	cfg.RMAddresses = []string{rm}
	return cfg, nil
}

// haAddress resolves <key>.<id>, falling back to yarn.resourcemanager.hostname.<id>:<defPort>.
func haAddress(c HadoopConf, key, id string, defPort int) (string, error) {
	host := c.Get(KeyRMHostname+"."+id, "")
	v := c.Get(key+"."+id, "")
	if v == "" && host == "" {
		return "", fmt.Errorf("yarn: RM HA id %q has neither %s.%s nor %s.%s set", id, key, id, KeyRMHostname, id)
	}
	return normalizeAddress(v, host, defPort, key+"."+id)
}

// normalizeAddress returns host:port from a configured address (which may lack the port) or, when
// it is empty, from host and defPort.
func normalizeAddress(addr, host string, defPort int, key string) (string, error) {
	if addr == "" {
		if host == "" {
			host = defaultRMHostnameValue
		}
		return net.JoinHostPort(host, fmt.Sprint(defPort)), nil
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return net.JoinHostPort(addr, fmt.Sprint(defPort)), nil
		}
		return "", fmt.Errorf("yarn: %s=%q is not host:port: %w", key, addr, err)
	}
	if h == "" {
		h = host
	}
	return net.JoinHostPort(h, p), nil
}

// replaceWildcardHost replaces a 0.0.0.0 (bind-all) host in addr by the host of ref: a server bound
// to all interfaces is reached at the RM's host.
func replaceWildcardHost(addr, ref string) string {
	h, p, err := net.SplitHostPort(addr)
	if err != nil || (h != "0.0.0.0" && h != "::") {
		return addr
	}
	rh, _, err := net.SplitHostPort(ref)
	if err != nil || rh == "0.0.0.0" || rh == "::" {
		return addr
	}
	return net.JoinHostPort(rh, p)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// UserFromEnv returns the SIMPLE-auth identity: $HADOOP_USER_NAME, else $USER, else "nobody";
// never an OS account lookup, since YARN containers run as the NodeManager's OS user while USER
// names the submitter.
func UserFromEnv() string {
	if u := os.Getenv("HADOOP_USER_NAME"); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "nobody"
}

// LoadConfig loads the Hadoop configuration from the environment (YARN_CONF_DIR, HADOOP_CONF_DIR,
// HADOOP_HOME) and resolves it.
func LoadConfig() (Config, error) {
	hc, err := LoadHadoopConfFromEnv()
	if err != nil {
		return Config{}, err
	}
	return ConfigFromHadoop(hc)
}
