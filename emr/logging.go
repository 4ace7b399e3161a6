package emr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
)

// LogScope says which flink-go processes a logging configuration applies to.
type LogScope string

// The scopes, after Flink's three log4j files.
const (
	// ScopeCluster is the JobManager/ApplicationMaster and the TaskManagers (log4j.properties,
	// classification flink-log4j); keys env.log.*.
	ScopeCluster LogScope = "cluster"
	// ScopeSession is the client that starts a YARN session (log4j-session.properties,
	// classification flink-log4j-session); keys env.log.session.*.
	ScopeSession LogScope = "session"
	// ScopeCLI is the command line client (log4j-cli.properties, classification
	// flink-log4j-cli); keys env.log.cli.*.
	ScopeCLI LogScope = "cli"
)

// KeyPrefix is the configuration key prefix of the scope's logging settings. The keys live in
// the env.* pass-through namespace, which configs accepts unchecked; LoggingFromConfig reads
// them back and checks them.
func (s LogScope) KeyPrefix() string {
	switch s {
	case ScopeSession:
		return "env.log.session."
	case ScopeCLI:
		return "env.log.cli."
	default:
		return "env.log."
	}
}

// LoggingConfig is a log4j configuration translated to flink-go's logging (zerolog). Only the
// settings with a meaning in flink-go are kept: the root level, per-logger levels, and the
// rolling of the log file.
//
// As configuration keys (for scope cluster; session and cli insert "session."/"cli."):
//
//	env.log.level              root level: trace, debug, info, warn, error, fatal, disabled
//	env.log.levels.<logger>    level of a logger and the loggers below it (dot-separated names)
//	env.log.file.max-size      roll the log file at this size (e.g. 100 mb)
//	env.log.max                number of rolled files to keep (Flink's own key)
type LoggingConfig struct {
	// Scope says which processes the settings apply to.
	Scope LogScope
	// Classification is the classification the settings came from, if any.
	Classification string
	// RootLevel is the root logger's level as a zerolog level name; empty means unset.
	RootLevel string
	// Levels maps logger names to zerolog level names.
	Levels map[string]string
	// MaxFileSize rolls the log file when it reaches this size; 0 means unset.
	MaxFileSize configs.MemorySize
	// MaxFiles is the number of rolled files kept; 0 means unset.
	MaxFiles int
}

// Keys renders the settings as configuration keys under the scope's prefix.
func (l LoggingConfig) Keys() map[string]string {
	p := l.Scope.KeyPrefix()
	out := map[string]string{}
	if l.RootLevel != "" {
		out[p+"level"] = l.RootLevel
	}
	for name, lvl := range l.Levels {
		out[p+"levels."+name] = lvl
	}
	if l.MaxFileSize > 0 {
		out[p+"file.max-size"] = configs.FormatMemorySize(l.MaxFileSize)
	}
	if l.MaxFiles > 0 {
		out[p+"max"] = strconv.Itoa(l.MaxFiles)
	}
	return out
}

// LoggingFromConfig reads a scope's logging settings back from a flat configuration (e.g.
// configs.Configuration.Map()), checking every value. Keys of the other scopes are skipped.
func LoggingFromConfig(conf map[string]string, scope LogScope) (LoggingConfig, error) {
	l := LoggingConfig{Scope: scope, Levels: map[string]string{}}
	p := scope.KeyPrefix()
	var errs []error
	for _, k := range sortedKeys(conf) {
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := strings.TrimPrefix(k, p)
		if scope == ScopeCluster && (strings.HasPrefix(rest, "session.") || strings.HasPrefix(rest, "cli.")) {
			continue
		}
		v := strings.TrimSpace(conf[k])
		switch {
		case rest == "level":
			lvl, err := checkLevel(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", k, err))
				continue
			}
			l.RootLevel = lvl
		case strings.HasPrefix(rest, "levels.") && len(rest) > len("levels."):
			lvl, err := checkLevel(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", k, err))
				continue
			}
			l.Levels[strings.TrimPrefix(rest, "levels.")] = lvl
		case rest == "file.max-size":
			m, err := configs.ParseMemorySize(v)
			if err != nil || m <= 0 {
				errs = append(errs, fmt.Errorf("key %q: %q is not a positive memory size (e.g. 100 mb)", k, v))
				continue
			}
			l.MaxFileSize = m
		case rest == "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("key %q: %q is not a positive number of files", k, v))
				continue
			}
			l.MaxFiles = n
		case rest == "dir" || rest == "file":
			// Flink's env.log.dir / env.log.file: the log location, read by the launcher.
		default:
			errs = append(errs, fmt.Errorf("key %q: unknown logging key (expected %slevel, %slevels.<logger>, %sfile.max-size or %smax)", k, p, p, p, p))
		}
	}
	return l, errors.Join(errs...)
}

func checkLevel(v string) (string, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(v))
	if err != nil || v == "" {
		return "", fmt.Errorf("%q is not a log level (trace, debug, info, warn, error, fatal, disabled)", v)
	}
	return lvl.String(), nil
}

// LevelFor returns the level of the named logger: the level of the longest configured logger
// name that equals it or is a dot-separated prefix of it ("org.apache" covers
// "org.apache.kafka"), else the root level, else info.
func (l LoggingConfig) LevelFor(logger string) zerolog.Level {
	best, bestLen := "", -1
	for name, lvl := range l.Levels {
		if (logger == name || strings.HasPrefix(logger, name+".")) && len(name) > bestLen {
			best, bestLen = lvl, len(name)
		}
	}
	if bestLen < 0 {
		best = l.RootLevel
	}
	if best == "" {
		return zerolog.InfoLevel
	}
	lvl, err := zerolog.ParseLevel(best)
	if err != nil {
		return zerolog.InfoLevel
	}
	return lvl
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
	return l, ignored, nil
}

// Logger returns base for the named component: at the component's level (LevelFor) and with
// the field component=name, as flink-go's components log.
func (l LoggingConfig) Logger(base zerolog.Logger, component string) zerolog.Logger {
	return base.Level(l.LevelFor(component)).With().Str("component", component).Logger()
}
