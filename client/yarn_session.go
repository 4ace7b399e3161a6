package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flink-go/flink-go/cluster"
	"github.com/flink-go/flink-go/configs"
	"github.com/flink-go/flink-go/fs"
	"github.com/flink-go/flink-go/yarn"
)

// YarnSessionFile is where a YARN session records itself for later commands:
// $FLINK_GO_HOME/yarn-session.properties (FLINK_GO_HOME defaults to ~/.flink-go), like Flink's
// /tmp/.yarn-properties-<user>.
func YarnSessionFile() string {
	return filepath.Join(filepath.Dir(cluster.SessionFile()), "yarn-session.properties")
}

// YarnSessionRecord is the content of the session properties file.
type YarnSessionRecord struct {
	AppID yarn.ApplicationID
	// Props are all key=value pairs of the file (applicationID, and what else was written).
	Props map[string]string
}

// WriteYarnSession records a session (applicationID=<id>, plus extra properties).
func WriteYarnSession(id yarn.ApplicationID, extra map[string]string) error {
	p := YarnSessionFile()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("recording the YARN session: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# flink-go YARN session, written %s\napplicationID=%s\n", time.Now().Format(time.RFC3339), id)
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, extra[k])
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("recording the YARN session: %w", err)
	}
	return os.Rename(tmp, p)
}

// ReadYarnSession reads the recorded session; ok is false when there is none. A file that does
// not name a valid application id is an error.
func ReadYarnSession() (rec YarnSessionRecord, ok bool, err error) {
	data, err := os.ReadFile(YarnSessionFile())
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("reading the YARN session file: %w", err)
	}
	rec, err = parseYarnSession(string(data))
	if err != nil {
		return rec, false, fmt.Errorf("%s: %w (delete the file if the session is gone)", YarnSessionFile(), err)
	}
	return rec, true, nil
}

func parseYarnSession(text string) (YarnSessionRecord, error) {
	rec := YarnSessionRecord{Props: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, found := strings.Cut(line, "=")
		if !found {
			k, v, _ = strings.Cut(line, ":")
		}
		rec.Props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	id, ok := rec.Props["applicationID"]
	if !ok {
		return rec, errors.New("no applicationID in the YARN session file")
	}
	app, err := yarn.ParseApplicationID(id)
	if err != nil {
		return rec, fmt.Errorf("applicationID: %w", err)
	}
	rec.AppID = app
	return rec, nil
}

// RemoveYarnSession deletes the session file if it records id.
func RemoveYarnSession(id yarn.ApplicationID) {
	if rec, ok, _ := ReadYarnSession(); ok && rec.AppID == id {
		_ = os.Remove(YarnSessionFile())
	}
}

// Retrieve returns the REST address of a running application from its report (host and rpc
// port the AM registered). Errors wrap ErrYarnAppNotRunning when it ended or has no endpoint yet.
func (d *YarnDeployer) Retrieve(ctx context.Context, id yarn.ApplicationID) (string, yarn.ApplicationReport, error) {
	rep, err := d.RM.GetApplicationReport(ctx, id)
	if err != nil {
		if errors.Is(err, yarn.ErrApplicationNotFound) {
			return "", rep, fmt.Errorf("%w: the ResourceManager does not know %s (another cluster, or it ended long ago): %w", ErrYarnAppNotRunning, id, err)
		}
		return "", rep, fmt.Errorf("application report of %s: %w", id, err)
	}
	if rep.State != yarn.StateRunning || rep.Final != yarn.FinalUndefined {
		return "", rep, fmt.Errorf("%w: %s is %s (final status %s)%s", ErrYarnAppNotRunning, id, rep.State, rep.Final, diagSuffix(rep.Diagnostics))
	}
	addr, ok := reportREST(rep)
	if !ok {
		return "", rep, fmt.Errorf("%w: %s is RUNNING but its JobManager has not registered a REST endpoint yet", ErrYarnAppNotRunning, id)
	}
	return addr, rep, nil
}

// reportREST is the REST address (host and rpc port the current AM attempt registered) of a
// running application's report.
func reportREST(rep yarn.ApplicationReport) (string, bool) {
	if rep.State != yarn.StateRunning || rep.RPCPort <= 0 || rep.Host == "" || rep.Host == "N/A" {
		return "", false
	}
	return net.JoinHostPort(rep.Host, strconv.Itoa(int(rep.RPCPort))), true
}

// StopSession shuts a session down gracefully: DELETE /cluster on its JobManager or, when the
// JobManager does not offer it, the stop marker in the staging directory that the session AM
// watches; the AM then cancels its jobs, unregisters SUCCEEDED and removes its staging directory.
// When the session does not end within a minute it is killed. The staging directory and the
// session record are removed in any case.
func (d *YarnDeployer) StopSession(ctx context.Context, id yarn.ApplicationID, rest string, conf *configs.Configuration) (yarn.ApplicationReport, error) {
	var rep yarn.ApplicationReport
	fsys, fsErr := d.ensureFS(ctx)
	staging := ""
	if fsErr == nil {
		if base, err := StagingBase(conf, fsys); err == nil {
			staging = StagingDir(base, id)
		}
	}
	requested := false
	if rest != "" {
		if err := NewRESTConf(rest, conf).do(ctx, "DELETE", "/cluster", nil, "", nil); err == nil {
			requested = true
		} else {
			d.Log.Debug().Err(err).Msg("DELETE /cluster")
		}
	}
	if !requested && staging != "" {
		w, err := fsys.Create(ctx, path.Join(staging, stopMarkerName), fs.CreateOptions{Overwrite: true, Perm: 0o600})
		if err == nil {
			err = w.Close()
		}
		if err == nil {
			requested = true
		} else {
			fmt.Fprintf(d.Out, "Could not request a graceful stop (%v)\n", err)
		}
	}
	if requested {
		fmt.Fprintf(d.Out, "Stopping YARN session %s ...\n", id)
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		r, err := d.RM.WaitForState(wctx, id, d.PollInterval, func(yarn.ApplicationReport) bool { return false })
		cancel()
		rep = r
		if err != nil {
			requested = false
			fmt.Fprintf(d.Out, "The session did not stop within 60 s (%v); killing the application\n", err)
		}
	}
	if !requested {
		if err := d.RM.KillApplication(ctx, id, "stopped by the flink-go client"); err != nil && !errors.Is(err, yarn.ErrApplicationNotFound) {
			return rep, fmt.Errorf("killing %s: %w", id, err)
		}
		if r, err := d.RM.GetApplicationReport(ctx, id); err == nil {
			rep = r
		}
	}
	if staging != "" {
		if err := d.removeStaging(ctx, staging); err != nil {
			fmt.Fprintf(d.Out, "Could not remove the staging directory: %v\n", err)
		}
	}
	RemoveYarnSession(id)
	fmt.Fprintf(d.Out, "YARN session %s ended: %s/%s\n", id, rep.State, rep.Final)
	return rep, nil
}

// SubmitToSession plans the job binary locally, uploads it into the session's staging directory
// (<staging>/jobs/<n>/<binary name>) and submits the job graph to the session's JobManager with
// the staged binary as artifact. It returns the job id.
func (d *YarnDeployer) SubmitToSession(ctx context.Context, id yarn.ApplicationID, rest, binary string, args []string, conf *configs.Configuration) (string, error) {
	g, err := Plan(ctx, binary, args, conf.Map())
	if err != nil {
		return "", err
	}
	data, err := proto.Marshal(g)
	if err != nil {
		return "", err
	}
	fsys, err := d.ensureFS(ctx)
	if err != nil {
		return "", err
	}
	base, err := StagingBase(conf, fsys)
	if err != nil {
		return "", err
	}
	dir := path.Join(StagingDir(base, id), "jobs", fmt.Sprintf("%d-%s", time.Now().UnixMilli(), NewJobID()[:8]))
	name := filepath.Base(binary)
	res, _, err := d.upload(ctx, fsys, path.Join(dir, name), stagedFile{link: name, local: binary, perm: 0o700}, max(configs.Get(conf, configs.YarnFileReplication), 0), d.Out)
	if err != nil {
		return "", err
	}
	jobID, err := NewRESTConf(rest, conf).Submit(ctx, data, res.URI)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = d.removeStaging(cctx, dir)
		cancel()
		return "", fmt.Errorf("submitting to YARN session %s at %s: %w", id, rest, err)
	}
	return jobID, nil
}

// sessionStatus is the line the attached session client prints when it changes.
func sessionStatus(ctx context.Context, r *REST) string {
	o, err := r.Overview(ctx)
	if err != nil {
		return "JobManager not reachable: " + err.Error()
	}
	num := func(k string) int64 {
		switch v := o[k].(type) {
		case float64:
			return int64(v)
		}
		return 0
	}
	return fmt.Sprintf("TaskManagers: %d, slots: %d free of %d, jobs: %d running, %d finished, %d cancelled, %d failed",
		num("taskmanagers"), num("slots-available"), num("slots-total"), num("jobs-running"), num("jobs-finished"), num("jobs-cancelled"), num("jobs-failed"))
}

// AttachSession follows a running session: it prints status changes, and stops the session when
// "stop" (or "quit") is typed on in or ctx ends (Ctrl-C). It returns when the session ended.
func (d *YarnDeployer) AttachSession(ctx context.Context, id yarn.ApplicationID, rest string, conf *configs.Configuration, in io.Reader) error {
	fmt.Fprintf(d.Out, "Attached to YARN session %s (REST http://%s). Type 'stop' to stop the session; Ctrl-C stops it too.\n", id, rest)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- strings.TrimSpace(sc.Text()):
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	r := NewRESTConf(rest, conf)
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := ""
	stop := func(why string) error {
		fmt.Fprintln(d.Out, why)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
		defer cancel()
		_, err := d.StopSession(sctx, id, rest, conf)
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return stop("Interrupted: stopping the session")
		case l, ok := <-lines:
			if !ok {
				lines = nil // stdin closed: keep following until Ctrl-C or the session ends
				continue
			}
			switch strings.ToLower(l) {
			case "stop", "quit", "exit":
				return stop("Stopping the session on request")
			case "":
			default:
				fmt.Fprintf(d.Out, "Unknown command %q: type 'stop' to stop the session\n", l)
			}
		case <-tick.C:
			rep, err := d.RM.GetApplicationReport(ctx, id)
			if err == nil && rep.State.Terminal() {
				RemoveYarnSession(id)
				fmt.Fprintf(d.Out, "YARN session %s ended: %s/%s%s\n", id, rep.State, rep.Final, diagSuffix(rep.Diagnostics))
				if rep.Final == yarn.FinalSucceeded {
					return nil
				}
				return fmt.Errorf("YARN session %s ended %s/%s", id, rep.State, rep.Final)
			}
			if s := sessionStatus(ctx, r); s != last {
				fmt.Fprintln(d.Out, s)
				last = s
			}
		}
	}
}
