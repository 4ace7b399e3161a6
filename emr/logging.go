package emr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
)

// The logging settings' types and keys belong to the process logging setup in package cluster;
// this file translates log4j properties into them.

// LogScope says which flink-go processes a logging configuration applies to (cluster.LogScope).
type LogScope = cluster.LogScope

// The scopes, after Flink's three log4j files.
const (
	// ScopeCluster is the JobManager/ApplicationMaster and the TaskManagers (log4j.properties,
	// classification flink-log4j); keys env.log.*.
	ScopeCluster = cluster.ScopeCluster
	// ScopeSession is the client that starts a YARN session (log4j-session.properties,
	// classification flink-log4j-session); keys env.log.session.*.
	ScopeSession = cluster.ScopeSession
	// ScopeCLI is the command line client (log4j-cli.properties, classification
	// flink-log4j-cli); keys env.log.cli.*.
	ScopeCLI = cluster.ScopeCLI
)

// LoggingConfig is a log4j configuration translated to flink-go's logging (cluster.LoggingConfig):
// root level, per-logger levels, outputs and the rolling of the log file.
type LoggingConfig = cluster.LoggingConfig

// LoggingFromConfig reads a scope's logging settings back from a flat configuration, checking
// every value (cluster.LoggingFromConfig).
func LoggingFromConfig(conf map[string]string, scope LogScope) (LoggingConfig, error) {
	return cluster.LoggingFromConfig(conf, scope)
}

// log4jLevel maps a log4j level onto a zerolog level name. "${sys:x:-INFO}"-style lookups
// take their default.
func log4jLevel(v string) (string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") {
		if _, def, ok := strings.Cut(v[2:len(v)-1], ":-"); ok {
			v = def
		} else {
			return "", fmt.Errorf("level %q is a log4j lookup without a default (write the level, e.g. INFO)", v)
		}
	}
	switch strings.ToUpper(v) {
	case "ALL", "TRACE":
		return "trace", nil
	case "DEBUG":
		return "debug", nil
	case "INFO":
		return "info", nil
	case "WARN":
		return "warn", nil
	case "ERROR":
		return "error", nil
	case "FATAL":
		return "fatal", nil
	case "OFF":
		return "disabled", nil
	}
	return "", fmt.Errorf("%q is not a log4j level (ALL, TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF)", v)
}

// levelOfList takes the level from log4j's "LEVEL, appender, ..." form.
func levelOfList(v string) (string, error) {
	first, _, _ := strings.Cut(v, ",")
	return log4jLevel(first)
}

// log4j2Ignored are top-level log4j2 properties keys without a flink-go equivalent.
var log4j2Ignored = []string{"monitorInterval", "status", "name", "dest", "packages", "shutdownHook", "shutdownTimeout", "strict", "verbose", "appenders", "loggers", "filters"}

// ParseLog4j translates log4j properties (log4j2's properties syntax as EMR uses since 5.30,
// and log4j 1's) into a LoggingConfig for scope. It returns the keys it recognised as log4j
// settings but that have no flink-go equivalent (layouts, appender types, file names, ...).
// A key that is no log4j setting, a bad level, size or count is an error naming the key.
func ParseLog4j(props map[string]string, scope LogScope) (LoggingConfig, []string, error) {
	l := LoggingConfig{Scope: scope, Levels: map[string]string{}}
	var (
		ignored []string
		errs    []error
	)
	// log4j2 "logger.<id>.name" and "logger.<id>.level" pair up by id.
	loggerNames := map[string]string{}
	loggerLevels := map[string]string{}
	bad := func(k string, err error) { errs = append(errs, fmt.Errorf("property %q: %w", k, err)) }
	for _, k := range sortedKeys(props) {
		v := strings.TrimSpace(props[k])
		parts := strings.Split(k, ".")
		switch {
		// --- log4j2 ---
		case k == "rootLogger.level" || k == "rootLogger":
			lvl, err := levelOfList(v)
			if err != nil {
				bad(k, err)
				continue
			}
			l.RootLevel = lvl
		case strings.HasPrefix(k, "rootLogger."):
			ignored = append(ignored, k)
		case parts[0] == "logger" && len(parts) == 3 && parts[2] == "name":
			loggerNames[parts[1]] = v
		case parts[0] == "logger" && len(parts) == 3 && parts[2] == "level":
			lvl, err := log4jLevel(v)
			if err != nil {
				bad(k, err)
				continue
			}
			loggerLevels[parts[1]] = lvl
		case parts[0] == "logger" && len(parts) >= 3:
			ignored = append(ignored, k) // additivity, appenderRef.*
		case parts[0] == "appender" && len(parts) == 5 && parts[2] == "policies" && parts[4] == "size":
			m, err := configs.ParseMemorySize(v)
			if err != nil || m <= 0 {
				bad(k, fmt.Errorf("%q is not a file size (e.g. 100MB)", v))
				continue
			}
			l.MaxFileSize = m
		case parts[0] == "appender" && len(parts) == 4 && parts[2] == "strategy" && parts[3] == "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				bad(k, fmt.Errorf("%q is not a positive number of files", v))
				continue
			}
			l.MaxFiles = n
		case parts[0] == "appender" && len(parts) >= 3:
			ignored = append(ignored, k)
		case contains(log4j2Ignored, k) || (len(parts) >= 2 && (parts[0] == "property" || parts[0] == "filter" || parts[0] == "appender" || parts[0] == "logger")):
			ignored = append(ignored, k)

		// --- log4j 1 ---
		case k == "log4j.rootLogger" || k == "log4j.rootCategory":
			lvl, err := levelOfList(v)
			if err != nil {
				bad(k, err)
				continue
			}
			l.RootLevel = lvl
		case (strings.HasPrefix(k, "log4j.logger.") || strings.HasPrefix(k, "log4j.category.")) && len(parts) > 2:
			lvl, err := levelOfList(v)
			if err != nil {
				bad(k, err)
				continue
			}
			l.Levels[strings.Join(parts[2:], ".")] = lvl
		case strings.HasPrefix(k, "log4j.appender.") && len(parts) == 4 && parts[3] == "MaxFileSize":
			m, err := configs.ParseMemorySize(v)
			if err != nil || m <= 0 {
				bad(k, fmt.Errorf("%q is not a file size (e.g. 100MB)", v))
				continue
			}
			l.MaxFileSize = m
		case strings.HasPrefix(k, "log4j.appender.") && len(parts) == 4 && parts[3] == "MaxBackupIndex":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				bad(k, fmt.Errorf("%q is not a positive number of files", v))
				continue
			}
			l.MaxFiles = n
		case strings.HasPrefix(k, "log4j.appender.") || strings.HasPrefix(k, "log4j.additivity.") ||
			k == "log4j.threshold" || k == "log4j.debug" || k == "log4j.reset":
			ignored = append(ignored, k)
		default:
			bad(k, errors.New("not a log4j setting (expected log4j2 keys such as rootLogger.level, logger.<id>.name/level, appender.<id>.*, or log4j 1 keys such as log4j.rootLogger, log4j.logger.<name>)"))
		}
	}
	for _, id := range sortedKeys(loggerLevels) {
		name, ok := loggerNames[id]
		if !ok || name == "" {
			errs = append(errs, fmt.Errorf("property %q: logger.%s.level without logger.%s.name", "logger."+id+".level", id, id))
			continue
		}
		l.Levels[name] = loggerLevels[id]
	}
	for _, id := range sortedKeys(loggerNames) {
		if _, ok := loggerLevels[id]; !ok {
			ignored = append(ignored, "logger."+id+".name")
		}
	}
	if len(errs) > 0 {
		return LoggingConfig{}, nil, errors.Join(errs...)
	}
	if out, used := log4jOutput(props); out != "" {
		l.Output = out
		kept := ignored[:0]
		for _, k := range ignored {
			if !contains(used, k) {
				kept = append(kept, k)
			}
		}
		ignored = kept
	}
	return l, ignored, nil
}

// appenderKind says whether a log4j appender type (log4j2 "type", log4j 1 class) writes to the
// console or to a file; "" for other appenders (sockets, Kafka, ...).
func appenderKind(typ string) string {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "console"):
		return cluster.OutputConsole
	case strings.Contains(t, "file"):
		return cluster.OutputFile
	}
	return ""
}

// log4jOutput finds where the root logger writes: the kinds (console, file) of the appenders it
// references, log4j2 (rootLogger.appenderRef.<r>.ref or "rootLogger = LEVEL, ref, ..." naming
// appender.<id>.name with appender.<id>.type) or log4j 1 ("log4j.rootLogger = LEVEL, name, ..."
// with log4j.appender.<name> = class). It returns "" when no referenced appender resolves to a
// console or file appender, and the keys it used.
func log4jOutput(props map[string]string) (string, []string) {
	var console, file bool
	var used []string
	resolve := func(ref string, byName func(string) (string, []string)) {
		typ, keys := byName(strings.TrimSpace(ref))
		switch appenderKind(typ) {
		case cluster.OutputConsole:
			console = true
		case cluster.OutputFile:
			file = true
		default:
			return
		}
		used = append(used, keys...)
	}
	// log4j2: appenders by their name property.
	log4j2 := func(name string) (string, []string) {
		for _, k := range sortedKeys(props) {
			parts := strings.Split(k, ".")
			if len(parts) == 3 && parts[0] == "appender" && parts[2] == "name" && strings.TrimSpace(props[k]) == name {
				tk := "appender." + parts[1] + ".type"
				return props[tk], []string{k, tk}
			}
		}
		return "", nil
	}
	log4j1 := func(name string) (string, []string) {
		k := "log4j.appender." + name
		return props[k], []string{k}
	}
	for _, k := range sortedKeys(props) {
		parts := strings.Split(k, ".")
		switch {
		case len(parts) == 4 && parts[0] == "rootLogger" && parts[1] == "appenderRef" && parts[3] == "ref":
			before := len(used)
			resolve(props[k], log4j2)
			if len(used) > before {
				used = append(used, k)
			}
		case k == "rootLogger" || k == "log4j.rootLogger" || k == "log4j.rootCategory":
			refs := strings.Split(props[k], ",")[1:]
			for _, r := range refs {
				if k == "rootLogger" {
					resolve(r, log4j2)
				} else {
					resolve(r, log4j1)
				}
			}
		}
	}
	if !console && !file {
		return "", nil
	}
	return outputOf(console, file), used
}

func outputOf(console, file bool) string {
	switch {
	case console && file:
		return cluster.OutputConsole + "," + cluster.OutputFile
	case file:
		return cluster.OutputFile
	}
	return cluster.OutputConsole
}
