package cluster

// Process logging: one setup for every process role (CLI, local cluster, local session, YARN
// ApplicationMaster, TaskManager processes and containers), configured by the env.log.* keys
// that Flink's log4j files and EMR's flink-log4j* classifications translate to (package emr).
//
// The decision (PlanLogging: levels, file, console, rolling) is separated from the I/O
// (OpenLogging: files, the rolling writer, stderr).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/s3fs"
)

// LogScope says which flink-go processes a logging configuration applies to.
type LogScope string

// The scopes, after Flink's three log4j files.
const (
	// ScopeCluster is the JobManager/ApplicationMaster and the TaskManagers, local or on YARN
	// (log4j.properties, classification flink-log4j); keys env.log.*.
	ScopeCluster LogScope = "cluster"
	// ScopeSession is the client that starts a YARN session (log4j-session.properties,
	// classification flink-log4j-session); keys env.log.session.*.
	ScopeSession LogScope = "session"
	// ScopeCLI is the command line client (log4j-cli.properties, classification
	// flink-log4j-cli); keys env.log.cli.*.
	ScopeCLI LogScope = "cli"
)

// KeyLogDir is Flink's key for the directory of the log files; it is shared by all scopes.
const KeyLogDir = "env.log.dir"

// DefaultMaxLogFiles is the number of rolled files kept when a maximum file size is set and
// env.log.max is not (Flink's default for env.log.max).
const DefaultMaxLogFiles = 10

// Log outputs (the values of env.log.output).
const (
	OutputConsole = "console"
	OutputFile    = "file"
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

// LoggingConfig is a logging configuration in flink-go's terms (zerolog): the root level,
// per-logger levels, the outputs and the rolling of the log file.
//
// As configuration keys (for scope cluster; session and cli insert "session."/"cli."):
//
//	env.log.level              root level: trace, debug, info, warn, error, fatal, disabled
//	env.log.levels.<logger>    level of a logger and the loggers below it: a flink-go component
//	                           (jobmanager, taskmanager, network, ...) or a log4j logger name
//	                           (org.apache.flink.runtime.io.network, ...; see ComponentLoggers)
//	env.log.output             console, file or console,file (default: file when env.log.dir
//	                           is set, else console; on YARN the container's log file)
//	env.log.file.max-size      roll the log file at this size (e.g. 100 mb)
//	env.log.max                number of rolled files to keep (Flink's own key; default 10)
//	env.log.dir                directory of the log files (Flink's own key, all scopes)
type LoggingConfig struct {
	// Scope says which processes the settings apply to.
	Scope LogScope
	// Classification is the classification the settings came from, if any.
	Classification string
	// RootLevel is the root logger's level as a zerolog level name; empty means unset.
	RootLevel string
	// Levels maps logger names to zerolog level names.
	Levels map[string]string
	// Output is "console", "file" or "console,file"; empty means unset.
	Output string
	// MaxFileSize rolls the log file when it reaches this size; 0 means unset.
	MaxFileSize configs.MemorySize
	// MaxFiles is the number of rolled files kept; 0 means unset.
	MaxFiles int
	// Dir is the directory of the log files (env.log.dir); empty means unset.
	Dir string
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
	if l.Output != "" {
		out[p+"output"] = l.Output
	}
	if l.MaxFileSize > 0 {
		out[p+"file.max-size"] = configs.FormatMemorySize(l.MaxFileSize)
	}
	if l.MaxFiles > 0 {
		out[p+"max"] = strconv.Itoa(l.MaxFiles)
	}
	if l.Dir != "" {
		out[KeyLogDir] = l.Dir
	}
	return out
}

// LoggingFromConfig reads a scope's logging settings from a flat configuration (e.g.
// configs.Configuration.Map()), checking every value; each bad value is an error naming its key.
// Keys of the other scopes are skipped; env.log.dir is read for every scope.
func LoggingFromConfig(conf map[string]string, scope LogScope) (LoggingConfig, error) {
	l := LoggingConfig{Scope: scope, Levels: map[string]string{}}
	p := scope.KeyPrefix()
	var errs []error
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(conf[k])
		if k == KeyLogDir {
			l.Dir = v
			continue
		}
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := strings.TrimPrefix(k, p)
		if scope == ScopeCluster && (strings.HasPrefix(rest, "session.") || strings.HasPrefix(rest, "cli.")) {
			continue
		}
		switch {
		case rest == "level":
			lvl, err := CheckLevel(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", k, err))
				continue
			}
			l.RootLevel = lvl
		case strings.HasPrefix(rest, "levels.") && len(rest) > len("levels."):
			lvl, err := CheckLevel(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", k, err))
				continue
			}
			l.Levels[strings.TrimPrefix(rest, "levels.")] = lvl
		case rest == "output":
			out, err := checkOutput(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("key %q: %w", k, err))
				continue
			}
			l.Output = out
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
		case scope != ScopeCluster && rest == "dir":
			errs = append(errs, fmt.Errorf("key %q: the log directory is %s for every scope", k, KeyLogDir))
		default:
			errs = append(errs, fmt.Errorf("key %q: unknown logging key (expected %slevel, %slevels.<logger>, %soutput, %sfile.max-size, %smax or %s)", k, p, p, p, p, p, KeyLogDir))
		}
	}
	return l, errors.Join(errs...)
}

// CheckLevel checks a zerolog level name (case-insensitive) and returns its canonical form.
func CheckLevel(v string) (string, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(v)))
	if err != nil || strings.TrimSpace(v) == "" || lvl == zerolog.NoLevel {
		return "", fmt.Errorf("%q is not a log level (trace, debug, info, warn, error, fatal, disabled)", v)
	}
	return lvl.String(), nil
}

func checkOutput(v string) (string, error) {
	var console, file bool
	for _, part := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case OutputConsole:
			console = true
		case OutputFile:
			file = true
		default:
			return "", fmt.Errorf("%q is not a log output (console, file or console,file)", v)
		}
	}
	return outputString(console, file), nil
}

func outputString(console, file bool) string {
	switch {
	case console && file:
		return OutputConsole + "," + OutputFile
	case file:
		return OutputFile
	default:
		return OutputConsole
	}
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

// Logger returns base for the named component: at the component's level (LevelFor) and with
// the field component=name, as flink-go's components log.
func (l LoggingConfig) Logger(base zerolog.Logger, component string) zerolog.Logger {
	return base.Level(l.LevelFor(component)).With().Str("component", component).Logger()
}

// ComponentLoggers maps each flink-go component (the value of the "component" field its log
// records carry) to the log4j logger names of the Flink (or Hadoop, AWS) code it stands for. A
// configured logger name applies to a component when it is one of these names, an ancestor of
// one ("org.apache.flink" covers every Flink component) or a descendant of one (a Flink class
// such as org.apache.flink.runtime.jobmaster.JobMaster sets its component's level, the
// closest flink-go has). The component names themselves are accepted as logger names too.
var ComponentLoggers = map[string][]string{
	"jobmanager": {"org.apache.flink.runtime.jobmaster", "org.apache.flink.runtime.dispatcher",
		"org.apache.flink.runtime.jobmanager", "org.apache.flink.runtime.resourcemanager",
		"org.apache.flink.runtime.checkpoint", "org.apache.flink.runtime.scheduler",
		"org.apache.flink.runtime.executiongraph", "org.apache.flink.runtime.rest",
		"org.apache.flink.runtime.webmonitor", "org.apache.flink.runtime.entrypoint"},
	"taskmanager": {"org.apache.flink.runtime.taskexecutor", "org.apache.flink.runtime.taskmanager",
		"org.apache.flink.streaming.runtime.tasks", "org.apache.flink.runtime.state"},
	"network":         {"org.apache.flink.runtime.io.network"},
	"pebblestore":     {"org.apache.flink.contrib.streaming.state", "org.apache.flink.state.rocksdb", "org.rocksdb"},
	"yarn-driver":     {"org.apache.flink.yarn"},
	"am-loop":         {"org.apache.flink.yarn", "org.apache.hadoop.yarn.client.api.async"},
	"yarn-session-am": {"org.apache.flink.yarn"},
	"yarn-client":     {"org.apache.hadoop.yarn.client", "org.apache.hadoop.ipc"},
	"amrm-client":     {"org.apache.hadoop.yarn.client", "org.apache.hadoop.ipc"},
	"nm-client":       {"org.apache.hadoop.yarn.client", "org.apache.hadoop.ipc"},
	"hdfs":            {"org.apache.hadoop.hdfs", "org.apache.hadoop.fs", "org.apache.flink.runtime.fs.hdfs"},
	"s3fs": {"org.apache.flink.fs.s3", "org.apache.hadoop.fs.s3a", "com.amazonaws", "software.amazon.awssdk",
		"com.amazon.ws.emr.hadoop.fs"},
}

// ComponentLevels resolves per-logger levels to per-component levels. For each component the
// most specific related configured name wins (a component's own name beats any log4j name).
// It returns the configured names that relate to no flink-go component, sorted.
func ComponentLevels(levels map[string]string) (map[string]zerolog.Level, []string) {
	out := map[string]zerolog.Level{}
	specificity := map[string]int{}
	used := map[string]bool{}
	names := make([]string, 0, len(levels))
	for n := range levels {
		names = append(names, n)
	}
	sort.Strings(names)
	set := func(comp, name string, spec int) {
		lvl, err := zerolog.ParseLevel(levels[name])
		if err != nil {
			return
		}
		used[name] = true
		if s, ok := specificity[comp]; !ok || spec > s {
			out[comp], specificity[comp] = lvl, spec
		}
	}
	for _, name := range names {
		if _, ok := ComponentLoggers[name]; ok {
			set(name, name, 1<<20)
			continue
		}
		for comp, loggers := range ComponentLoggers {
			for _, l := range loggers {
				if l == name || strings.HasPrefix(l, name+".") || strings.HasPrefix(name, l+".") {
					set(comp, name, len(name))
					break
				}
			}
		}
	}
	var unmapped []string
	for _, name := range names {
		if !used[name] {
			unmapped = append(unmapped, name)
		}
	}
	return out, unmapped
}

// LogEnv is what PlanLogging needs to know about the process besides its configuration.
type LogEnv struct {
	// LevelOverride is FLINK_GO_LOG_LEVEL (the CLI's --log-level): it overrides the root level.
	LevelOverride string
	// ContainerLogDirs is YARN's LOG_DIRS (comma-separated) in a container, else empty.
	ContainerLogDirs string
	// StderrPath is the file the process's stderr writes to, if it is a regular file (on YARN
	// the launch command redirects it into the container's log dir).
	StderrPath string
}

// ProcessLogEnv probes this process's environment: FLINK_GO_LOG_LEVEL, LOG_DIRS and where fd 2
// points (/proc/self/fd/2).
func ProcessLogEnv() LogEnv {
	e := LogEnv{LevelOverride: os.Getenv(EnvLogLevel), ContainerLogDirs: os.Getenv("LOG_DIRS")}
	if p, err := os.Readlink("/proc/self/fd/2"); err == nil && filepath.IsAbs(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			e.StderrPath = p
		}
	}
	return e
}

// LogPlan is the decided logging setup of one process.
type LogPlan struct {
	// Root is the level of records without a configured component.
	Root zerolog.Level
	// Components are the levels of components with a configured level.
	Components map[string]zerolog.Level
	// Unmapped are configured logger names without a flink-go equivalent (reported once).
	Unmapped []string
	// Console says whether records go to stderr.
	Console bool
	// File is the log file's path; empty means no file.
	File string
	// MaxSize rolls the file at this many bytes; 0 means never.
	MaxSize int64
	// MaxBackups is the number of rolled files kept (File.1 ... File.MaxBackups).
	MaxBackups int
	// AdoptStderr says that stderr already writes to File (a YARN container's redirect): the
	// rolling writer re-points fd 2 at the current file on every roll, so that panics and other
	// stderr output stay in the current log file and the two never write at different offsets.
	AdoptStderr bool
}

// PlanLogging decides the logging setup of a process of the given scope whose log file is named
// fileName (e.g. jobmanager.log) from its configuration and environment. It does no I/O.
//
// Root level: env.LevelOverride, else <prefix>level, else info (warn for the CLI scopes, whose
// console output is for the user). Log directory: in a YARN container, the directory stderr is
// redirected into when it is named fileName, else the first of LOG_DIRS; elsewhere env.log.dir.
// Output: <prefix>output, else file when a log directory is set outside YARN or when a maximum
// size is set on YARN, else console. Console output to a stderr that is the log file itself
// is dropped (it would write every record twice).
func PlanLogging(conf map[string]string, scope LogScope, fileName string, env LogEnv) (LogPlan, error) {
	l, err := LoggingFromConfig(conf, scope)
	if err != nil {
		return LogPlan{}, err
	}
	p := LogPlan{Root: zerolog.InfoLevel}
	if scope != ScopeCluster {
		p.Root = zerolog.WarnLevel
	}
	if l.RootLevel != "" {
		p.Root, _ = zerolog.ParseLevel(l.RootLevel)
	}
	if o := strings.TrimSpace(env.LevelOverride); o != "" {
		lvl, err := CheckLevel(o)
		if err != nil {
			return LogPlan{}, fmt.Errorf("%s (--log-level): %w", EnvLogLevel, err)
		}
		p.Root, _ = zerolog.ParseLevel(lvl)
	}
	p.Components, p.Unmapped = ComponentLevels(l.Levels)

	dir := l.Dir
	inContainer := strings.TrimSpace(env.ContainerLogDirs) != ""
	if inContainer {
		dir = strings.TrimSpace(strings.Split(env.ContainerLogDirs, ",")[0])
		if env.StderrPath != "" && filepath.Base(env.StderrPath) == fileName {
			dir = filepath.Dir(env.StderrPath)
		}
	}
	output := l.Output
	if output == "" {
		output = OutputConsole
		if (!inContainer && dir != "") || (inContainer && l.MaxFileSize > 0) {
			output = OutputFile
		}
	}
	p.Console = strings.Contains(output, OutputConsole)
	if strings.Contains(output, OutputFile) {
		if dir == "" {
			return LogPlan{}, fmt.Errorf("key %q: output %q needs a log directory: set %s", scope.KeyPrefix()+"output", output, KeyLogDir)
		}
		if fileName == "" || strings.ContainsAny(fileName, "/\x00") {
			return LogPlan{}, fmt.Errorf("log file name %q must be a plain file name", fileName)
		}
		p.File = filepath.Join(dir, fileName)
		p.MaxSize = int64(l.MaxFileSize)
		if p.MaxSize > 0 {
			p.MaxBackups = l.MaxFiles
			if p.MaxBackups == 0 {
				p.MaxBackups = DefaultMaxLogFiles
			}
		}
		if env.StderrPath != "" && filepath.Clean(env.StderrPath) == filepath.Clean(p.File) {
			p.AdoptStderr = true
			p.Console = false
		}
	}
	return p, nil
}

// MinLevel is the lowest level any record can pass with: the logger's own level, below which
// zerolog does not even build records.
func (p LogPlan) MinLevel() zerolog.Level {
	min := p.Root
	for _, l := range p.Components {
		if l < min {
			min = l
		}
	}
	return min
}

// Allows says whether a record of level lvl from component comp ("" = none) is written.
func (p LogPlan) Allows(lvl zerolog.Level, comp string) bool {
	limit := p.Root
	if l, ok := p.Components[comp]; ok && comp != "" {
		limit = l
	}
	if limit == zerolog.Disabled {
		return false
	}
	if lvl == zerolog.NoLevel {
		return true
	}
	return lvl >= limit
}

// componentOf returns the value of the last "component" field of a zerolog JSON record (a
// component logger derived from another one repeats the field; the last is the most specific).
// Inside JSON strings quotes are escaped, so the pattern only matches a key.
func componentOf(rec []byte) string {
	const key = `"component":"`
	i := bytes.LastIndex(rec, []byte(key))
	if i < 0 {
		return ""
	}
	rest := rec[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// LevelFilter is a zerolog.LevelWriter that passes a record to Out only when the plan allows
// its level for its component, which makes per-component levels work for sub-loggers derived
// anywhere in the code (zerolog's own level is per logger value, not per component).
type LevelFilter struct {
	Plan LogPlan
	Out  io.Writer
}

// Write passes records of unknown level (written without WriteLevel) by component only.
func (f LevelFilter) Write(p []byte) (int, error) { return f.WriteLevel(zerolog.NoLevel, p) }

// WriteLevel writes p when its level passes the filter; dropped records count as written.
func (f LevelFilter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if !f.Plan.Allows(l, componentOf(p)) {
		return len(p), nil
	}
	return f.Out.Write(p)
}

// RollingFile is an io.Writer on a log file that rolls it by size, as log4j's
// RollingFileAppender with MaxFileSize and MaxBackupIndex: when a write would take the file past
// MaxSize, path.<MaxBackups> is deleted, path.<i> renamed to path.<i+1>, path to path.1, and a
// new path started. A single write larger than MaxSize goes whole into a fresh file. The file is
// opened for appending, so a restarted process continues it. Safe for concurrent use.
type RollingFile struct {
	path       string
	maxSize    int64
	maxBackups int
	adopt      bool

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRollingFile opens (creating it and its directory) the log file at path. maxSize 0 never
// rolls; maxBackups 0 with a maxSize truncates instead of keeping a backup. adoptStderr makes fd
// 2 write to the current file (see LogPlan.AdoptStderr).
func OpenRollingFile(path string, maxSize int64, maxBackups int, adoptStderr bool) (*RollingFile, error) {
	if maxSize < 0 || maxBackups < 0 {
		return nil, fmt.Errorf("log file %s: negative maximum size (%d) or number of backups (%d)", path, maxSize, maxBackups)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory of %s: %w (check env.log.dir)", path, err)
	}
	r := &RollingFile{path: path, maxSize: maxSize, maxBackups: maxBackups, adopt: adoptStderr}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RollingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log file: %w (check env.log.dir and its permissions)", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file %s: %w", r.path, err)
	}
	if r.adopt {
		if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
			f.Close()
			return fmt.Errorf("redirecting stderr to log file %s: %w", r.path, err)
		}
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Path returns the path of the current log file.
func (r *RollingFile) Path() string { return r.path }

// Write appends p to the current file, rolling first when p would take it past the maximum.
func (r *RollingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fmt.Errorf("log file %s is closed", r.path)
	}
	if r.adopt && r.maxSize > 0 {
		// Others write to the file through fd 2 (panics, fmt.Fprint(os.Stderr)): count them.
		if st, err := r.f.Stat(); err == nil {
			r.size = st.Size()
		}
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.roll(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing log file %s: %w", r.path, err)
	}
	return n, nil
}

func (r *RollingFile) roll() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("closing log file %s to roll it: %w", r.path, err)
	}
	r.f = nil
	if r.maxBackups == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rolling log file: %w", err)
		}
	} else {
		if err := os.Remove(fmt.Sprintf("%s.%d", r.path, r.maxBackups)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rolling log file: %w", err)
		}
		for i := r.maxBackups - 1; i >= 1; i-- {
			from := fmt.Sprintf("%s.%d", r.path, i)
			if err := os.Rename(from, fmt.Sprintf("%s.%d", r.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rolling log file: %w", err)
			}
		}
		if err := os.Rename(r.path, r.path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rolling log file: %w", err)
		}
	}
	return r.open()
}

// Reopen closes and reopens the file at its path, for an external rotation (logrotate's
// move-then-signal) or a file deleted by hand.
func (r *RollingFile) Reopen() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		if err := r.f.Close(); err != nil {
			return fmt.Errorf("closing log file %s to reopen it: %w", r.path, err)
		}
		r.f = nil
	}
	return r.open()
}

// Close closes the file; later writes fail.
func (r *RollingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("closing log file %s: %w", r.path, err)
	}
	return nil
}

// OpenLogging builds the logger of a plan: zerolog records filtered per component
// (LevelFilter), written as text lines to stderr (colored on a terminal) and/or to the rolling
// log file (without colors, with dates). The returned closer closes the file.
func OpenLogging(p LogPlan, stderr io.Writer) (zerolog.Logger, io.Closer, error) {
	var outs []io.Writer
	var closer io.Closer = nopCloser{}
	if p.File != "" {
		rf, err := OpenRollingFile(p.File, p.MaxSize, p.MaxBackups, p.AdoptStderr)
		if err != nil {
			return zerolog.Nop(), nil, err
		}
		closer = rf
		outs = append(outs, zerolog.ConsoleWriter{Out: rf, NoColor: true, TimeFormat: "2006-01-02 15:04:05.000"})
	}
	if p.Console || p.File == "" {
		outs = append(outs, zerolog.ConsoleWriter{Out: stderr, NoColor: !isTerminal(stderr), TimeFormat: "15:04:05.000"})
	}
	var out io.Writer = outs[0]
	if len(outs) > 1 {
		out = io.MultiWriter(outs...)
	}
	zerolog.TimeFieldFormat = zerolog.TimeFormatUnixMs
	log := zerolog.New(LevelFilter{Plan: p, Out: out}).Level(p.MinLevel()).With().Timestamp().Logger()
	if len(p.Unmapped) > 0 {
		log.Warn().Strs("loggers", p.Unmapped).Msg("log levels of these loggers are not applied: no flink-go component corresponds to them (see docs/emr.md, Logging classifications)")
	}
	return log, closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewLogger plans and opens the logging of a process of scope with the log file fileName in
// this process's environment (ProcessLogEnv); errors name the configuration key at fault.
func NewLogger(conf map[string]string, scope LogScope, fileName string) (zerolog.Logger, io.Closer, error) {
	p, err := PlanLogging(conf, scope, fileName, ProcessLogEnv())
	if err != nil {
		return zerolog.Nop(), nil, fmt.Errorf("logging configuration: %w", err)
	}
	return OpenLogging(p, os.Stderr)
}

// processLogFile names the log file of a job binary's role: taskmanager.log in a YARN
// container, taskmanager-<resource id>.log for local TaskManager processes (they share a
// directory), jobmanager.log for the local cluster and the ApplicationMaster roles.
func processLogFile(role, resourceID string, inContainer bool) string {
	if role != RoleTaskManger {
		return "jobmanager.log"
	}
	if inContainer || resourceID == "" {
		return "taskmanager.log"
	}
	return "taskmanager-" + strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, resourceID) + ".log"
}

var (
	processLogMu sync.Mutex
	processLog   *zerolog.Logger
)

// processLogger returns the logger of this job binary process, set up once from
// FLINK_GO_JOB_CONFIG (scope cluster) and the role. A bad logging configuration is reported on
// stderr and the process logs to stderr at info (the CLI checks the configuration before it
// starts any process, so this is a last resort).
func processLogger() zerolog.Logger {
	processLogMu.Lock()
	defer processLogMu.Unlock()
	if processLog != nil {
		return *processLog
	}
	env := ProcessLogEnv()
	name := processLogFile(os.Getenv(EnvRole), os.Getenv(EnvResourceID), env.ContainerLogDirs != "")
	// The file stays open for the life of the process (its writes are unbuffered: nothing to
	// flush at exit).
	log, _, err := func() (zerolog.Logger, io.Closer, error) {
		p, err := PlanLogging(LaunchConfig(), ScopeCluster, name, env)
		if err != nil {
			return zerolog.Nop(), nil, err
		}
		return OpenLogging(p, os.Stderr)
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "flink-go: logging configuration: %v; logging to stderr at info\n", err)
		log, _, _ = OpenLogging(LogPlan{Root: zerolog.InfoLevel, Console: true}, os.Stderr)
	}
	processLog = &log
	// The S3 file system logs through a package logger of its own (the AWS SDK's retries,
	// throttling): make it follow the process's setup (level filter, file).
	s3fs.SetLogger(log)
	return log
}
