package nn

import (
	"context"
	"errors"
	"fmt"
)

// Session is one execution context of a Model: the activation buffers, input and output
// buffers and kernel scratch a run writes, allocated once by NewSession and reused by every Run.
// The Model's weights are shared with every other session. A Session is not safe for concurrent
// use; two sessions of one Model are independent and may run at the same time.
type Session struct {
	m       *Model
	slots   []*value
	kernels []kernel // the model's kernels; those with scratch are this session's copies
	ins     []*value // argument lists of the current step, reused
	outs    []*value
	bytes   int64
}

// scratchKernel is implemented by kernels that keep scratch buffers between runs: every session
// runs its own copy, which shares the kernel's read-only parts (such as packed weights).
type scratchKernel interface {
	kernel
	// withScratch returns a copy with fresh scratch and the bytes that scratch will hold.
	withScratch() (kernel, int64)
}

// sizedKernel is implemented by kernels that hold data of their own made at compile time
// (packed weights, broadcast indexes), counted in Model.Bytes.
type sizedKernel interface{ constBytes() int64 }

// NewSession allocates an execution context for m: everything a run writes.
func (m *Model) NewSession() *Session {
	s := &Session{
		m:       m,
		slots:   make([]*value, len(m.slots)),
		kernels: make([]kernel, len(m.steps)),
		ins:     make([]*value, 0, 8),
		outs:    make([]*value, 0, 4),
	}
	bufs := make([][]float32, len(m.bufLen))
	for i, n := range m.bufLen {
		bufs[i] = make([]float32, n)
		s.bytes += 4 * int64(n)
	}
	for i, t := range m.slots {
		if m.konst[i] {
			s.slots[i] = t
			continue
		}
		v := &value{shape: t.shape, isInt: t.isInt}
		switch n := t.len(); {
		case t.isInt:
			v.ints = make([]int64, n)
			s.bytes += 8 * int64(n)
		case m.bufOf[i] >= 0:
			v.floats = bufs[m.bufOf[i]][:n]
		default:
			v.floats = make([]float32, n)
			s.bytes += 4 * int64(n)
		}
		s.slots[i] = v
	}
	for i, st := range m.steps {
		s.kernels[i] = st.k
		if sk, ok := st.k.(scratchKernel); ok {
			k, n := sk.withScratch()
			s.kernels[i] = k
			s.bytes += n
		}
	}
	return s
}

// Model is the model the session runs.
func (s *Session) Model() *Model { return s.m }

// Bytes is the memory the session holds of its own (buffers and scratch), in bytes.
func (s *Session) Bytes() int64 { return s.bytes }

// Input is the session's buffer for float input i (in the order of Model.Inputs), of
// InputShape(i): fill it before Run. It is nil for an integer input or an index out of range.
func (s *Session) Input(i int) []float32 {
	if i < 0 || i >= len(s.m.inSlots) {
		return nil
	}
	v := s.slots[s.m.inSlots[i]]
	if v.isInt {
		return nil
	}
	return v.floats
}

// Output is float output i (in the order of Model.Outputs) of the last Run, of OutputShape(i).
// It aliases the session's buffer: it is valid until the next Run. It is nil for an integer
// output or an index out of range.
func (s *Session) Output(i int) []float32 {
	if i < 0 || i >= len(s.m.outSlots) {
		return nil
	}
	v := s.slots[s.m.outSlots[i]]
	if v.isInt {
		return nil
	}
	return v.floats
}

// Run computes the outputs from the session's inputs on the calling goroutine. It checks ctx
// between steps, so that a run past its deadline stops within one operator, and returns an
// error wrapping ctx.Err() then.
func (s *Session) Run(ctx context.Context) error {
	done := ctx.Done()
	m := s.m
	for si := range m.steps {
		st := &m.steps[si]
		if done != nil {
			select {
			case <-done:
				return fmt.Errorf("nn: stopped before %s (step %d of %d): %w", st.node.Describe(), si+1, len(m.steps), ctx.Err())
			default:
			}
		}
		ins, outs := s.ins[:0], s.outs[:0]
		for _, sl := range st.in {
			if sl < 0 {
				ins = append(ins, nil)
			} else {
				ins = append(ins, s.slots[sl])
			}
		}
		for _, sl := range st.out {
			if sl < 0 {
				outs = append(outs, nil)
				continue
			}
			v := s.slots[sl]
			if v.isInt {
				clear(v.ints) // integer kernels may rely on a zeroed output, as when allocated per run
			}
			outs = append(outs, v)
		}
		s.ins, s.outs = ins, outs
		if err := s.kernels[si].run(ins, outs); err != nil {
			return fmt.Errorf("nn: %s: %w", st.node.Describe(), err)
		}
	}
	return nil
}

// InputShape is the static shape of input i.
func (m *Model) InputShape(i int) []int { return m.slots[m.inSlots[i]].shape }

// OutputShape is the static shape of output i.
func (m *Model) OutputShape(i int) []int { return m.slots[m.outSlots[i]].shape }

// Bytes is the memory the compiled model holds (weights and other constants, packed weights),
// in bytes; shared by all its sessions.
func (m *Model) Bytes() int64 {
	var n int64
	for i, v := range m.slots {
		if m.konst[i] {
			n += 4*int64(len(v.floats)) + 8*int64(len(v.ints))
		}
	}
	for _, st := range m.steps {
		if sk, ok := st.k.(sizedKernel); ok {
			n += sk.constBytes()
		}
	}
	return n
}

// SessionBytes is what NewSession allocates, in bytes, without allocating it.
func (m *Model) SessionBytes() int64 {
	var n int64
	for _, l := range m.bufLen {
		n += 4 * int64(l)
	}
	for i, t := range m.slots {
		switch {
		case m.konst[i]:
		case t.isInt:
			n += 8 * int64(t.len())
		case m.bufOf[i] < 0:
			n += 4 * int64(t.len())
		}
	}
	for _, st := range m.steps {
		if sk, ok := st.k.(interface{ scratchBytes() int64 }); ok {
			n += sk.scratchBytes()
		}
	}
	return n
}

// Run runs the model on float32 inputs given in the order of m.Inputs and returns the outputs in
// the order of m.Outputs. The input shapes must match the declared ones. Runs are serialised on
// a session of the Model's own; use NewSession for concurrent runs.
func (m *Model) Run(inputs ...*Tensor) ([]*Tensor, error) {
	vals := make([]*value, len(inputs))
	for i, t := range inputs {
		if t == nil {
			return nil, errors.New("nn: nil input")
		}
		vals[i] = &value{shape: t.Shape, floats: t.Data}
	}
	m.runMu.Lock()
	defer m.runMu.Unlock()
	outs, err := m.run(vals)
	if err != nil {
		return nil, err
	}
	res := make([]*Tensor, len(outs))
	for i, o := range outs {
		if o.isInt {
			return nil, fmt.Errorf("nn: output %q is an integer tensor", m.Outputs[i].Name)
		}
		res[i] = &Tensor{Shape: append([]int(nil), o.shape...), Data: append([]float32(nil), o.floats...)}
	}
	return res, nil
}

// run executes the plan on the Model's own session with the inputs' data in place of the
// session's input buffers; the returned values alias the session. The caller holds runMu or is
// the only user of m.
func (m *Model) run(inputs []*value) ([]*value, error) {
	if len(inputs) != len(m.inSlots) {
		return nil, fmt.Errorf("nn: model has %d inputs, got %d", len(m.inSlots), len(inputs))
	}
	if m.runner == nil {
		m.runner = m.NewSession()
	}
	s := m.runner
	for i, sl := range m.inSlots {
		want := s.slots[sl]
		in := inputs[i]
		if !sameShape(in.shape, want.shape) {
			return nil, fmt.Errorf("nn: input %q: shape %v, the model wants %v", m.Inputs[i].Name, in.shape, want.shape)
		}
		if in.isInt != want.isInt || len(in.floats)+len(in.ints) != want.len() {
			return nil, fmt.Errorf("nn: input %q: wrong element type or data length", m.Inputs[i].Name)
		}
		want.floats, want.ints = in.floats, in.ints
	}
	if err := s.Run(context.Background()); err != nil {
		return nil, err
	}
	res := make([]*value, len(m.outSlots))
	for i, sl := range m.outSlots {
		res[i] = s.slots[sl]
	}
	return res, nil
}

// planBuffers gives every float value that steps write a session buffer, reusing the buffers of
// values that are dead by then, and lets elementwise kernels work in place. Inputs and outputs
// of the graph get buffers of their own.
func (m *Model) planBuffers() {
	m.bufOf = make([]int, len(m.slots))
	lastUse := make([]int, len(m.slots))
	for i := range lastUse {
		m.bufOf[i], lastUse[i] = -1, -1
	}
	keep := map[int]bool{}
	for _, s := range m.outSlots {
		keep[s] = true
	}
	for _, s := range m.inSlots {
		keep[s] = true
	}
	for si, st := range m.steps {
		for _, s := range st.in {
			if s >= 0 {
				lastUse[s] = si
			}
		}
	}
	newBuf := func(n int) int {
		m.bufLen = append(m.bufLen, n)
		return len(m.bufLen) - 1
	}
	var free []int // buffers of dead values
	take := func(n int) int {
		best := -1
		for i, b := range free {
			if m.bufLen[b] >= n && (best < 0 || m.bufLen[b] < m.bufLen[free[best]]) {
				best = i
			}
		}
		if best < 0 {
			return newBuf(n)
		}
		b := free[best]
		free = append(free[:best], free[best+1:]...)
		return b
	}
	float := func(s int) bool { return !m.konst[s] && !m.slots[s].isInt }
	for _, s := range m.inSlots {
		if float(s) {
			m.bufOf[s] = newBuf(m.slots[s].len())
		}
	}
	for si, st := range m.steps {
		inPlace := false
		if ip, ok := st.k.(inPlacer); ok && ip.inPlace() && len(st.in) > 0 && st.in[0] >= 0 && len(st.out) == 1 && st.out[0] >= 0 {
			src, dst := st.in[0], st.out[0]
			if !keep[src] && !keep[dst] && lastUse[src] == si && float(src) && float(dst) && m.bufOf[src] >= 0 &&
				m.bufLen[m.bufOf[src]] >= m.slots[dst].len() && !usedTwice(st.in, src) {
				inPlace = true
				m.bufOf[dst] = m.bufOf[src]
				lastUse[src] = -2 // its buffer now belongs to the output
			}
		}
		for _, s := range st.out {
			if s < 0 || (inPlace && s == st.out[0]) || !float(s) {
				continue
			}
			if keep[s] {
				m.bufOf[s] = newBuf(m.slots[s].len())
			} else {
				m.bufOf[s] = take(m.slots[s].len())
			}
		}
		for _, s := range st.in {
			if s >= 0 && lastUse[s] == si && !keep[s] && float(s) && m.bufOf[s] >= 0 {
				free = append(free, m.bufOf[s])
				lastUse[s] = -2
			}
		}
		// Outputs nobody reads are dead at once.
		for _, s := range st.out {
			if s >= 0 && lastUse[s] == -1 && !keep[s] && float(s) && m.bufOf[s] >= 0 {
				free = append(free, m.bufOf[s])
				lastUse[s] = -2
			}
		}
	}
}

// usedTwice reports whether slot s appears more than once among a step's inputs.
func usedTwice(in []int, s int) bool {
	n := 0
	for _, x := range in {
		if x == s {
			n++
		}
	}
	return n > 1
}
