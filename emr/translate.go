package emr

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
)

// Classification names flink-go reads.
const (
	// ClassFlinkConf is EMR's flink-conf classification (flink-conf.yaml): configuration keys.
	ClassFlinkConf = "flink-conf"
	// ClassFlinkGoConf is flink-go's alias of flink-conf, for clusters that run Flink and
	// flink-go side by side with different settings.
	ClassFlinkGoConf = "flink-go-conf"
	// ClassFlinkLog4j is log4j.properties of the JobManager and TaskManagers.
	ClassFlinkLog4j = "flink-log4j"
	// ClassFlinkLog4jSession is log4j-session.properties of the session client.
	ClassFlinkLog4jSession = "flink-log4j-session"
	// ClassFlinkLog4jYarnSession is the older name of the session client's file
	// (log4j-yarn-session.properties).
	ClassFlinkLog4jYarnSession = "flink-log4j-yarn-session"
	// ClassFlinkLog4jCLI is log4j-cli.properties of the command line client.
	ClassFlinkLog4jCLI = "flink-log4j-cli"
)

// otherEMRClassifications are classifications EMR defines for other applications. They are
// valid in a cluster's configuration document but mean nothing to flink-go: Translate skips
// them with a notice instead of an error.
var otherEMRClassifications = []string{
	"capacity-scheduler", "container-executor", "container-log4j", "docker-conf", "emrfs-site",
	"hadoop-env", "hadoop-log4j", "hadoop-ssl-server", "hadoop-ssl-client", "hadoop-kms-acls",
	"hadoop-kms-env", "hadoop-kms-log4j", "hadoop-kms-site", "hbase", "hbase-env", "hbase-log4j",
	"hbase-metrics", "hbase-policy", "hbase-site", "hdfs-encryption-zones", "hdfs-env",
	"hcatalog-env", "hcatalog-server-jndi", "hcatalog-server-proto-hive-site",
	"hcatalog-webhcat-env", "hcatalog-webhcat-log4j2", "hcatalog-webhcat-site", "hive",
	"hive-env", "hive-exec-log4j2", "hive-llap-daemon-log4j2", "hive-log4j2", "hive-site",
	"hiveserver2-site", "hudi-env", "hue-ini", "httpfs-env", "httpfs-site", "iceberg-defaults",
	"jupyter-notebook-conf", "jupyter-hub-conf", "jupyter-s3-conf", "jupyter-sparkmagic-conf",
	"livy-conf", "livy-env", "livy-log4j", "mapred-env", "mapred-site", "oozie-env", "oozie-log4j",
	"oozie-site", "phoenix-hbase-metrics", "phoenix-hbase-site", "phoenix-log4j",
	"phoenix-metrics", "pig-env", "pig-properties", "pig-log4j", "presto-log", "presto-config",
	"presto-env", "presto-node", "ranger-kms-dbks-site", "ranger-kms-site", "ranger-kms-env",
	"ranger-kms-log4j", "ranger-kms-db-ca", "spark", "spark-defaults", "spark-env",
	"spark-hive-site", "spark-log4j", "spark-log4j2", "spark-metrics", "sqoop-env",
	"sqoop-oraoop-site", "sqoop-site", "tez-site", "trino-config", "trino-env", "trino-log",
	"trino-node", "yarn-env", "zeppelin-env", "zeppelin-site", "zookeeper-config",
	"zookeeper-log4j", "export",
}

// otherPrefixes are prefixes of EMR classification families (connectors and catalogs).
var otherPrefixes = []string{"presto-connector-", "trino-connector-", "recordserver-", "hue-", "delta-", "hudi-"}

// hadoopClassifications are mapped onto flink-go's Hadoop and YARN override namespaces.
var hadoopClassifications = []string{"core-site", "hdfs-site", "yarn-site"}

// TranslateOptions tune Translate.
type TranslateOptions struct {
	// Hiera resolves EMR's %{hiera('key')} references (EMR's provisioning fills them in when
	// it writes flink-conf.yaml; outside that, flink-go needs the values). A reference to a
	// key not in the map is an error.
	Hiera map[string]string
	// KeepHiera leaves unresolved %{hiera('key')} references in place (checking only the key
	// of such a property), for documents that EMR itself will provision, as in create-cluster.
	KeepHiera bool
	// Logger receives warnings (JVM-only keys without effect); nil means a no-op logger.
	Logger *zerolog.Logger
}

// Result is what Translate makes of a classification document.
type Result struct {
	// Overlays are the configuration layers, one per classification flink-go reads, in
	// document order; pass them as configs.LoadOptions.Overlays. Each entry's origin is
	// "classification <name>".
	Overlays []configs.Overlay
	// Logging holds the log4j classifications translated into flink-go logging settings (their
	// keys are also in Overlays).
	Logging []LoggingConfig
	// Notices are things that have no effect in flink-go (other applications'
	// classifications, log4j settings without an equivalent), for the caller to log.
	Notices []string
}

var hieraRef = regexp.MustCompile(`%\{hiera\('([^']*)'\)\}`)

// Translate maps classifications onto flink-go configuration. flink-conf and flink-go-conf
// properties must be valid flink-go keys and values; log4j classifications become env.log.*
// keys (see LoggingConfig); core-site and hdfs-site properties become flink.hadoop.* keys and
// yarn-site "yarn.*" properties flink.yarn.* keys (so a local client sees what EMR writes to
// /etc/hadoop/conf). Other EMR classifications are skipped with a notice. An unknown
// classification, an unknown key or a bad value is an error naming the entry, e.g.
// `classification[2] "flink-conff": unknown classification (did you mean flink-conf?)`; all
// problems are reported, joined.
func Translate(cls []Classification, opts TranslateOptions) (*Result, error) {
	logger := zerolog.Nop()
	if opts.Logger != nil {
		logger = *opts.Logger
	}
	res := &Result{}
	var errs []error
	for i, c := range cls {
		w := where("", "classification", i, c.Classification)
		name := c.Classification
		switch {
		case name == ClassFlinkConf || name == ClassFlinkGoConf:
			if len(c.Configurations) > 0 {
				errs = append(errs, entryErrorf(w, "nested \"Configurations\" are not allowed here (put the keys in \"Properties\")"))
			}
			props, err := resolveHiera(c.Properties, w, opts.Hiera, opts.KeepHiera)
			if err != nil {
				errs = append(errs, err)
			}
			if err := checkKeys(props, name, w, logger); err != nil {
				errs = append(errs, err)
			}
			res.Overlays = append(res.Overlays, configs.OverlayFromMap(name, props))
		case logScopeOf(name) != "":
			if len(c.Configurations) > 0 {
				errs = append(errs, entryErrorf(w, "nested \"Configurations\" are not allowed here (put the log4j settings in \"Properties\")"))
			}
			lc, ignored, err := ParseLog4j(c.Properties, logScopeOf(name))
			if err != nil {
				errs = append(errs, &EntryError{Where: w, Err: err})
				continue
			}
			lc.Classification = name
			for _, k := range ignored {
				res.Notices = append(res.Notices, fmt.Sprintf("%s: log4j property %q has no flink-go equivalent; ignored", w, k))
			}
			res.Logging = append(res.Logging, lc)
			res.Overlays = append(res.Overlays, configs.OverlayFromMap(name, lc.Keys()))
		case contains(hadoopClassifications, name):
			if len(c.Configurations) > 0 {
				errs = append(errs, entryErrorf(w, "nested \"Configurations\" are not allowed here"))
			}
			props, err := resolveHiera(c.Properties, w, opts.Hiera, opts.KeepHiera)
			if err != nil {
				errs = append(errs, err)
			}
			res.Overlays = append(res.Overlays, configs.OverlayFromMap(name, hadoopKeys(name, props)))
		case isOtherEMR(name):
			res.Notices = append(res.Notices, fmt.Sprintf("%s: classification of another EMR application; ignored by flink-go", w))
		default:
			msg := "unknown classification"
			if s := suggestClassification(name); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			} else {
				msg += " (flink-go reads flink-conf, flink-go-conf, flink-log4j, flink-log4j-session, flink-log4j-cli, core-site, hdfs-site and yarn-site)"
			}
			errs = append(errs, entryErrorf(w, "%s", msg))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return res, nil
}

// checkKeys validates each property as a flink-go configuration entry, reporting the entry.
func checkKeys(props map[string]string, name string, w Where, logger zerolog.Logger) error {
	scratch := configs.New().WithLogger(logger)
	var errs []error
	for _, k := range sortedKeys(props) {
		v := props[k]
		if hieraRef.MatchString(v) {
			// Left for EMR to resolve: only the key can be checked.
			if _, _, known := configs.LookupSpec(k); known {
				continue
			}
			v = "x"
		}
		if err := scratch.Set(k, v, configs.ClassificationOrigin(name)); err != nil {
			var ce *configs.Error
			if errors.As(err, &ce) {
				errs = append(errs, entryErrorf(w, "property %q: %w", k, ce.Err))
			} else {
				errs = append(errs, entryErrorf(w, "property %q: %w", k, err))
			}
		}
	}
	return errors.Join(errs...)
}

// resolveHiera replaces %{hiera('key')} references with opts' values.
func resolveHiera(props map[string]string, w Where, hiera map[string]string, keep bool) (map[string]string, error) {
	out := make(map[string]string, len(props))
	var errs []error
	for _, k := range sortedKeys(props) {
		v := props[k]
		var missing []string
		v = hieraRef.ReplaceAllStringFunc(v, func(ref string) string {
			key := hieraRef.FindStringSubmatch(ref)[1]
			if val, ok := hiera[key]; ok {
				return val
			}
			missing = append(missing, key)
			return ref
		})
		if len(missing) > 0 && keep {
			out[k] = v
			continue
		}
		if len(missing) > 0 {
			errs = append(errs, entryErrorf(w, "property %q: %q uses EMR's hiera interpolation, which only EMR's provisioning resolves; give the value literally or pass --hiera %s=VALUE", k, props[k], missing[0]))
			continue
		}
		out[k] = v
	}
	return out, errors.Join(errs...)
}

// hadoopKeys maps core-site/hdfs-site/yarn-site properties onto flink-go's override namespaces.
func hadoopKeys(name string, props map[string]string) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		if name == "yarn-site" && strings.HasPrefix(k, "yarn.") {
			out["flink.yarn."+strings.TrimPrefix(k, "yarn.")] = v
		} else {
			out["flink.hadoop."+k] = v
		}
	}
	return out
}

func isOtherEMR(name string) bool {
	if contains(otherEMRClassifications, name) {
		return true
	}
	for _, p := range otherPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func logScopeOf(name string) LogScope {
	switch name {
	case ClassFlinkLog4j:
		return ScopeCluster
	case ClassFlinkLog4jSession, ClassFlinkLog4jYarnSession:
		return ScopeSession
	case ClassFlinkLog4jCLI:
		return ScopeCLI
	}
	return ""
}

// suggestClassification returns the flink-go classification closest to name, if close.
func suggestClassification(name string) string {
	known := []string{ClassFlinkConf, ClassFlinkGoConf, ClassFlinkLog4j, ClassFlinkLog4jSession, ClassFlinkLog4jCLI, ClassFlinkLog4jYarnSession}
	known = append(known, hadoopClassifications...)
	known = append(known, otherEMRClassifications...)
	best, bestD := "", 1<<30
	lname := strings.ToLower(name)
	for _, k := range known {
		if lname == k {
			return k // only the case differs
		}
		if d := editDistance(lname, k); d < bestD {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(name) > 12 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
