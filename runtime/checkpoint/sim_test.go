package checkpoint

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flink-go/flink-go/runtime/serde"
)

// A seeded simulation of a job around the Coordinator: tasks snapshot after
// random delays with an incremental backend model, acknowledgements and
// completion notifications arrive late and out of order, tasks decline,
// metadata writes fail, savepoints and failovers happen. A model file system
// records which shared files exist. After every step:
//
//   - every shared file a retained checkpoint references exists;
//   - a completed checkpoint's shared files exist when it completes;
//   - zero-reference files handed out for deletion exist (no double counting);
//   - every checkpoint id ends exactly once (notified or aborted);
//   - no more checkpoints are retained than configured.
//
// At the end the coordinator shuts down with discard, every outstanding
// message is delivered, and no shared file may be left (no leaks).
func TestSimulation(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		if err := simulate(seed, 400); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

type simEvent struct {
	at  time.Time
	seq int
	fn  func() error
}

type simBackend struct {
	task      TaskID
	attempt   int
	live      []int          // state "identities" (SST files) in the local DB
	confirmed map[int]string // identity -> uploaded name, of the last notified checkpoint
	confID    int64          // id of that checkpoint
	snaps     map[int64]map[int]string
}

type sim struct {
	rng       *rand.Rand
	c         *Coordinator
	now       time.Time
	events    []simEvent
	seq       int
	files     map[string]bool // shared files that exist
	ended     map[int64]string
	triggers  map[int64]bool
	backends  map[TaskID]*simBackend
	nextIdent int
	cfg       Config
	log       []string
}

func simulate(seed int64, steps int) (err error) {
	rng := rand.New(rand.NewSource(seed))
	cfg := Config{
		JobID:             "job",
		JobDir:            "/ck/job",
		Interval:          time.Duration(500+rng.Intn(1500)) * time.Millisecond,
		Timeout:           time.Duration(2000+rng.Intn(4000)) * time.Millisecond,
		MaxConcurrent:     1 + rng.Intn(3),
		Retained:          1 + rng.Intn(3),
		TolerableFailures: UnlimitedFailures,
	}
	if rng.Intn(3) == 0 {
		cfg.MinPause = time.Duration(rng.Intn(1000)) * time.Millisecond
	}
	s := &sim{rng: rng, now: t0, files: map[string]bool{}, ended: map[int64]string{}, triggers: map[int64]bool{},
		backends: map[TaskID]*simBackend{}, cfg: cfg}
	for _, t := range []TaskID{map0, map1} {
		s.backends[t] = &simBackend{task: t, confirmed: map[int]string{}, snaps: map[int64]map[int]string{}}
	}
	s.c = NewCoordinator(cfg, tasks4, srcs, nil, 1)
	defer func() {
		if err != nil {
			tail := s.log
			if len(tail) > 40 {
				tail = tail[len(tail)-40:]
			}
			err = fmt.Errorf("%w\nconfig %+v\nlast events:\n  %s", err, cfg, strings.Join(tail, "\n  "))
		}
	}()
	for i := 0; i < steps; i++ {
		s.now = s.now.Add(time.Duration(50+rng.Intn(300)) * time.Millisecond)
		if err := s.runDue(); err != nil {
			return err
		}
		if err := s.apply("tick", s.c.Tick(s.now)); err != nil {
			return err
		}
		switch r := rng.Intn(100); {
		case r < 3:
			dir := fmt.Sprintf("/sp/savepoint-%d", i)
			_, acts := s.c.TriggerSavepoint(s.now, dir, SavepointPlain)
			if err := s.apply("savepoint", acts); err != nil {
				return err
			}
		case r < 5:
			for _, b := range s.backends {
				b.attempt++
			}
			if err := s.apply("reset", s.c.Reset(s.now, "simulated task failure")); err != nil {
				return err
			}
			s.restoreBackends()
		}
		if err := s.check(); err != nil {
			return err
		}
	}
	if err := s.apply("shutdown", s.c.Shutdown(s.now, "end of simulation", true)); err != nil {
		return err
	}
	for len(s.events) > 0 {
		s.now = s.now.Add(time.Hour)
		if err := s.runDue(); err != nil {
			return err
		}
	}
	for id := range s.triggers {
		if s.ended[id] == "" {
			return fmt.Errorf("checkpoint %d never ended", id)
		}
	}
	var left []string
	for f, ok := range s.files {
		if ok {
			left = append(left, f)
		}
	}
	sort.Strings(left)
	if len(left) > 0 {
		return fmt.Errorf("shared files leaked after shutdown: %v", left)
	}
	return nil
}

func (s *sim) after(d time.Duration, fn func() error) {
	s.seq++
	s.events = append(s.events, simEvent{at: s.now.Add(d), seq: s.seq, fn: fn})
}

func (s *sim) runDue() error {
	for {
		sort.Slice(s.events, func(i, j int) bool {
			if !s.events[i].at.Equal(s.events[j].at) {
				return s.events[i].at.Before(s.events[j].at)
			}
			return s.events[i].seq < s.events[j].seq
		})
		if len(s.events) == 0 || s.events[0].at.After(s.now) {
			return nil
		}
		ev := s.events[0]
		s.events = s.events[1:]
		if err := ev.fn(); err != nil {
			return err
		}
	}
}

func (s *sim) delay() time.Duration {
	if s.rng.Intn(20) == 0 {
		return time.Duration(3000+s.rng.Intn(5000)) * time.Millisecond // slow: may time out
	}
	return time.Duration(s.rng.Intn(800)) * time.Millisecond
}

// apply carries out actions like a JobMaster would.
func (s *sim) apply(cause string, acts []Action) error {
	for _, a := range acts {
		s.log = append(s.log, fmt.Sprintf("%v %s: %v", s.now.Sub(t0), cause, a))
		switch a := a.(type) {
		case *TriggerAction:
			if s.triggers[a.ID] {
				return fmt.Errorf("checkpoint %d triggered twice", a.ID)
			}
			for id := range s.triggers {
				if id >= a.ID {
					return fmt.Errorf("checkpoint %d triggered after %d", a.ID, id)
				}
			}
			s.triggers[a.ID] = true
			tr := *a
			for _, t := range tasks4 {
				s.scheduleSnapshot(t, &tr)
			}
		case *CompleteAction:
			cp := a.Checkpoint
			for _, f := range cp.SharedFiles() {
				if !s.files[f] {
					return fmt.Errorf("checkpoint %d completes with missing shared file %s", cp.ID, f)
				}
			}
			var err error
			if s.rng.Intn(10) == 0 {
				err = errors.New("simulated metadata write failure")
			}
			id := cp.ID
			if e := s.apply("finalized", s.c.Finalized(s.now, id, err)); e != nil {
				return e
			}
		case *NotifyCompleteAction:
			if err := s.end(a.ID, "notified"); err != nil {
				return err
			}
			id := a.ID
			for _, b := range s.backends {
				b := b
				attempt := b.attempt
				s.after(s.delay(), func() error {
					if b.attempt == attempt && id > b.confID && b.snaps[id] != nil {
						b.confirmed, b.confID = b.snaps[id], id
					}
					return nil
				})
			}
		case *AbortAction:
			if err := s.end(a.ID, "aborted"); err != nil {
				return err
			}
			if err := s.delete(a.DiscardShared, true, fmt.Sprintf("abort %d", a.ID)); err != nil {
				return err
			}
		case *DiscardAction:
			if err := s.delete(a.SharedFiles, true, fmt.Sprintf("discard %d", a.Checkpoint.ID)); err != nil {
				return err
			}
		case *DiscardStateAction:
			if err := s.delete(a.Shared, true, fmt.Sprintf("late ack %d", a.ID)); err != nil {
				return err
			}
		case *FailJobAction:
			return fmt.Errorf("unexpected FailJob with unlimited tolerable failures: %s", a.Reason)
		}
	}
	return nil
}

func (s *sim) end(id int64, how string) error {
	if prev := s.ended[id]; prev != "" {
		return fmt.Errorf("checkpoint %d %s after it was already %s", id, how, prev)
	}
	if !s.triggers[id] {
		return fmt.Errorf("checkpoint %d %s but never triggered", id, how)
	}
	s.ended[id] = how
	return nil
}

func (s *sim) delete(files []string, mustExist bool, why string) error {
	for _, f := range files {
		if mustExist && !s.files[f] {
			return fmt.Errorf("%s: deleting shared file %s that does not exist (reference counts off)", why, f)
		}
		delete(s.files, f)
	}
	return nil
}

// scheduleSnapshot lets task t take its snapshot after a delay and
// acknowledge (or decline) after another.
func (s *sim) scheduleSnapshot(t TaskID, tr *TriggerAction) {
	s.after(s.delay(), func() error {
		var h TaskStateHandle
		if b := s.backends[t]; b != nil {
			h = b.snapshot(s, tr)
		} else {
			h = handle(t, tr.ID)
		}
		decline := s.rng.Intn(40) == 0
		s.after(s.delay(), func() error {
			if decline {
				// The task gives up; what it uploaded is orphaned unless the
				// JobMaster cleans it: decline after deleting its own uploads.
				for _, f := range newShared(&h) {
					delete(s.files, f)
				}
				return s.apply("decline", s.c.Decline(s.now, t, tr.ID, "simulated snapshot failure"))
			}
			return s.apply(fmt.Sprintf("ack %v", t), s.c.Ack(s.now, t, tr.ID, h))
		})
		return nil
	})
}

func newShared(h *TaskStateHandle) []string {
	var out []string
	h.eachFile(func(f StateFile) {
		if f.Shared && f.New {
			out = append(out, f.Path)
		}
	})
	return out
}

// snapshot models an incremental backend: some state files disappear
// (compaction), new ones appear; files of the last notified checkpoint are
// reused, others uploaded under fresh names. Savepoints upload everything as
// exclusive files.
func (b *simBackend) snapshot(s *sim, tr *TriggerAction) TaskStateHandle {
	var live []int
	for _, id := range b.live {
		if s.rng.Intn(4) != 0 {
			live = append(live, id)
		}
	}
	for n := s.rng.Intn(3); n > 0; n-- {
		s.nextIdent++
		live = append(live, s.nextIdent)
	}
	b.live = live
	k := KeyedState{KeyGroups: serde.KeyGroupRangeFor(128, 2, b.task.Subtask), Format: "sim-v1"}
	mapping := map[int]string{}
	for _, id := range live {
		if tr.Savepoint {
			k.Files = append(k.Files, StateFile{Path: fmt.Sprintf("i%d", id), Size: 1})
			continue
		}
		name, ok := b.confirmed[id]
		f := StateFile{Path: name, Size: 1, Shared: true}
		if !ok {
			f.Path = fmt.Sprintf("m%d-a%d-c%d-i%d", b.task.Subtask, b.attempt, tr.ID, id)
			f.New = true
			s.files[f.Path] = true
		}
		mapping[id] = f.Path
		k.Files = append(k.Files, f)
	}
	if !tr.Savepoint {
		b.snaps[tr.ID] = mapping
	}
	return TaskStateHandle{Operators: []OperatorSubtaskState{{OperatorID: "op-map", MaxParallelism: 128, Keyed: []KeyedState{k}}}}
}

// restoreBackends: after a failover, tasks restore from the latest checkpoint.
func (s *sim) restoreBackends() {
	latest := s.c.Latest()
	for _, b := range s.backends {
		b.live, b.confirmed, b.confID, b.snaps = nil, map[int]string{}, 0, map[int64]map[int]string{}
		if latest == nil {
			continue
		}
		op := latest.Operator("op-map")
		for _, st := range op.Subtasks {
			if st.Subtask != b.task.Subtask {
				continue
			}
			for _, k := range st.Keyed {
				for _, f := range k.Files {
					var sub, att int
					var ck int64
					var ident int
					fmt.Sscanf(f.Path, "m%d-a%d-c%d-i%d", &sub, &att, &ck, &ident)
					b.live = append(b.live, ident)
					b.confirmed[ident] = f.Path
				}
			}
		}
		b.confID = latest.ID
	}
}

func (s *sim) check() error {
	ret := s.c.Completed()
	if len(ret) > s.cfg.Retained {
		return fmt.Errorf("%d checkpoints retained, configured %d", len(ret), s.cfg.Retained)
	}
	for _, cp := range ret {
		for _, f := range cp.SharedFiles() {
			if !s.files[f] {
				return fmt.Errorf("retained checkpoint %d references deleted shared file %s", cp.ID, f)
			}
			if s.c.SharedRegistry().Refs(f) < 1 {
				return fmt.Errorf("retained checkpoint %d: shared file %s has no reference", cp.ID, f)
			}
		}
	}
	return nil
}
