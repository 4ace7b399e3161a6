package op

// Output receives the records of an operator. The runtime connects it to the next chained
// operator (a direct call), to a network writer (serialization) or to several of them.
// Record-level failures are raised as panics carrying a *TaskError or the user's panic value;
// the task recovers them and fails with the message and stack.
type Output[T any] interface {
	Collect(v T, ts int64)
}

// Input is one typed input of an operator.
type Input[T any] interface {
	ProcessElement(v T, ts int64)
}

// Operator is the type-erased lifecycle of one operator instance in a chain. The runtime calls
// its methods from the task goroutine only.
type Operator interface {
	// Open is called once before the first record, after state was restored.
	Open() error
	// ProcessWatermark is called when the task's input watermark advanced: fire due event-time
	// timers, then forward (or hold back) the watermark with Forward.
	ProcessWatermark(wm int64)
	// Finish is called once when all input ended (after the final MaxWatermark): emit what is
	// buffered. Not called on failure or cancellation.
	Finish() error
	// Close releases resources; called once, also after a failure.
	Close() error
}

// WatermarkForwarder is what an operator calls to pass a watermark to its downstream
// operators and network outputs.
type WatermarkForwarder interface {
	EmitWatermark(wm int64)
}

// TaskError wraps an error returned by user code or a connector so that it can travel up the
// call stack as a panic to the task, which turns it back into an error.
type TaskError struct{ Err error }

func (e *TaskError) Error() string { return e.Err.Error() }
func (e *TaskError) Unwrap() error { return e.Err }

// Fail raises err as a task failure from inside a record-processing call.
func Fail(err error) { panic(&TaskError{Err: err}) }
