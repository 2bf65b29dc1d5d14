//! Threads: the thread setting, the built-in pool, a caller's parallel-for, and the splitting
//! of batches into chunks of rows.
//!
//! A call that is worth splitting (a batch of at least [`BATCH_MIN_WORK`] elements, or a row
//! of at least [`SEGMENT_MIN_LEN`](crate::segmented::SEGMENT_MIN_LEN)) becomes `count` tasks
//! `task(0..count)`, which an executor runs:
//! - [`Exec::Serial`]: in index order on the calling thread (one thread, the default);
//! - [`Exec::Pool`]: on the calling thread and up to `threads - 1` workers of the built-in
//!   pool, each taking the next unclaimed index;
//! - [`Exec::External`]: the caller's parallel-for ([`set_parallel_for`], C
//!   `softmax_set_parallel_for`).
//!
//! The tasks write disjoint outputs and return their partial results into slots indexed by
//! the task, which the caller combines in index order: which thread ran which task never
//! changes a result.
//!
//! # The pool
//! Workers are std threads started on first need and kept alive (no thread is spawned per
//! call). A worker that runs out of work watches for the next call's ticket for
//! [`SPIN`] (50 us) and then sleeps on a condition variable; the calling thread likewise
//! watches for its call's last tasks before it sleeps. Waking a sleeping thread costs tens of
//! microseconds on a virtual machine: with sleeping alone, 64 rows of 32000 (a cross-entropy
//! with gradient, about 170 us on two threads) scaled 1.5x instead of 1.95x. A call pushes one ticket per
//! helper it wants; the calling thread works on its own call too, so a call finishes even
//! when every worker is busy with other calls (no deadlock, whatever the nesting). A panic in
//! a task is caught on the thread that ran it, the remaining tasks still run, and the panic
//! is resumed on the calling thread once all tasks are done: the Rust caller sees the panic
//! as it would single-threaded, the C ABI reports `SOFTMAX_STATUS_INTERNAL_ERROR`, and the
//! worker stays alive. Lowering the process setting ([`set_num_threads`]) ends and joins the
//! surplus workers, so `set_num_threads(1)` leaves no thread of this library running (for
//! example before unloading the shared library); idle workers hold no lock and no memory of a
//! call, so process exit simply ends them.

use std::any::Any;
use std::collections::VecDeque;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread::JoinHandle;

/// The environment variable read (once, at first use) for the process's thread count.
pub const THREADS_ENV_VAR: &str = "SOFTMAX_NUM_THREADS";

/// The most threads one call uses (a larger setting is capped here).
pub const MAX_THREADS: usize = 256;

/// Batches of fewer elements (`rows * cols`) run on the calling thread, whatever the setting:
/// waking a worker costs a few microseconds, a batch of this size takes about 40 us on one
/// core (`examples/report.rs`, `threads_report`, measures the crossing point).
pub(crate) const BATCH_MIN_WORK: usize = 128 * 1024;

/// Every chunk of a batch holds at least this many elements (whole rows).
pub(crate) const CHUNK_MIN_WORK: usize = 32 * 1024;

/// Chunks per thread of a batch, so that a slow thread does not hold up the others (the last
/// chunk's imbalance is at most one chunk: with 4 chunks per thread, 64 rows of 32000 on two
/// threads scaled 1.54x, with 16, 1.80x, before the spinning wait).
const CHUNKS_PER_THREAD: usize = 16;

/// A caller's parallel-for, which runs the tasks of a call instead of the built-in pool.
///
/// ```
/// use std::sync::Arc;
/// /// Runs every task on a scoped thread of its own (a toy pool).
/// struct Scoped;
/// impl softmax::ParallelFor for Scoped {
///     fn parallel_for(&self, count: usize, task: &(dyn Fn(usize) + Sync)) {
///         std::thread::scope(|s| {
///             for i in 0..count {
///                 s.spawn(move || task(i));
///             }
///         });
///     }
/// }
/// softmax::set_parallel_for(Some(Arc::new(Scoped)));
/// let x = vec![0.5f32; 1 << 18];
/// let mut y = vec![0.0f32; 1 << 18];
/// softmax::softmax(&x, &mut y).unwrap();
/// softmax::set_parallel_for(None);
/// assert!(y.iter().all(|&v| v == y[0]));
/// ```
pub trait ParallelFor: Send + Sync {
    /// Calls `task(i)` exactly once for every `i` in `0..count`, in any order and on any
    /// threads (the calling thread included), and returns when every call has returned.
    /// `task` may panic; the panic must reach the caller of `parallel_for` (as with
    /// `std::thread::scope`) or be caught and every other task still run.
    fn parallel_for(&self, count: usize, task: &(dyn Fn(usize) + Sync));
}

impl crate::Softmax {
    /// The same kernels with their own thread count: `0` means the machine's available
    /// parallelism, `1` runs every call on the calling thread (even when a parallel-for is
    /// installed with [`set_parallel_for`]). Handles without this setting follow
    /// [`set_num_threads`]. Results never depend on it.
    ///
    /// ```
    /// use softmax::Softmax;
    /// let x = vec![1.0f32; 1 << 20];
    /// let (mut one, mut four) = (vec![0.0f32; 1 << 20], vec![0.0f32; 1 << 20]);
    /// Softmax::new().threads(1).softmax(&x, &mut one).unwrap();
    /// Softmax::new().threads(4).softmax(&x, &mut four).unwrap();
    /// assert!(one.iter().zip(&four).all(|(a, b)| a.to_bits() == b.to_bits()));
    /// ```
    pub fn threads(self, n: usize) -> crate::Softmax {
        crate::Softmax {
            threads: Some(n),
            ..self
        }
    }

    /// The thread count calls of this handle use with the built-in pool (its own setting or
    /// the process's, 0 resolved to the available parallelism).
    pub fn num_threads(&self) -> usize {
        resolve(self.threads.unwrap_or_else(setting))
    }
}

/// The process setting: `UNSET` until read from the environment or set.
static SETTING: AtomicUsize = AtomicUsize::new(UNSET);
const UNSET: usize = usize::MAX;

/// The caller's parallel-for, if any (`HAS_EXTERNAL` mirrors it for a lock-free check).
static EXTERNAL: RwLock<Option<Arc<dyn ParallelFor>>> = RwLock::new(None);
static HAS_EXTERNAL: AtomicBool = AtomicBool::new(false);

/// Sets the process's thread count for every later call of handles without their own
/// setting ([`Softmax::threads`](crate::Softmax::threads)): `0` means the machine's
/// available parallelism, `1` (the default) runs every call on the calling thread. Values
/// above [`MAX_THREADS`] are capped. Lowering it ends (and joins) the built-in pool's surplus
/// worker threads. Results never depend on it.
pub fn set_num_threads(n: usize) {
    SETTING.store(n, Ordering::Relaxed);
    pool().shrink(resolve(n).saturating_sub(1));
}

/// The process's thread count as calls use it: the setting of [`set_num_threads`] or
/// [`THREADS_ENV_VAR`] (default 1), with 0 resolved to the available parallelism.
pub fn num_threads() -> usize {
    resolve(setting())
}

/// Installs a caller's parallel-for (`None` restores the built-in pool). While one is
/// installed, every call that is worth splitting hands its tasks to it, whatever the thread
/// count, except calls of a handle set to [`threads(1)`](crate::Softmax::threads), which stay
/// on the calling thread. Results never depend on it.
pub fn set_parallel_for(parallel_for: Option<Arc<dyn ParallelFor>>) {
    let mut slot = EXTERNAL.write().unwrap_or_else(|e| e.into_inner());
    HAS_EXTERNAL.store(parallel_for.is_some(), Ordering::Release);
    *slot = parallel_for;
}

fn setting() -> usize {
    match SETTING.load(Ordering::Relaxed) {
        UNSET => {
            static FROM_ENV: OnceLock<usize> = OnceLock::new();
            let n = *FROM_ENV.get_or_init(from_env);
            // A concurrent `set_num_threads` wins over the environment.
            let _ = SETTING.compare_exchange(UNSET, n, Ordering::Relaxed, Ordering::Relaxed);
            SETTING.load(Ordering::Relaxed)
        }
        n => n,
    }
}

fn from_env() -> usize {
    let Ok(v) = std::env::var(THREADS_ENV_VAR) else {
        return 1;
    };
    v.trim().parse::<usize>().unwrap_or_else(|_| {
        eprintln!("softmax: {THREADS_ENV_VAR}={v:?} is not a number of threads; using 1");
        1
    })
}

/// A setting as a thread count: 0 is the available parallelism; at most [`MAX_THREADS`].
pub(crate) fn resolve(n: usize) -> usize {
    let n = if n == 0 { available() } else { n };
    n.min(MAX_THREADS)
}

fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How a call runs its tasks.
pub(crate) enum Exec {
    /// In index order on the calling thread.
    Serial,
    /// The built-in pool with this many threads (the caller included, at least 2).
    Pool(usize),
    /// The caller's parallel-for.
    External(Arc<dyn ParallelFor>),
}

impl Exec {
    /// The executor of a call whose handle has the thread setting `handle` (`None`: the
    /// process setting).
    pub(crate) fn of(handle: Option<usize>) -> Exec {
        if handle == Some(1) {
            return Exec::Serial;
        }
        if HAS_EXTERNAL.load(Ordering::Acquire) {
            let slot = EXTERNAL.read().unwrap_or_else(|e| e.into_inner());
            if let Some(p) = slot.as_ref() {
                return Exec::External(Arc::clone(p));
            }
        }
        match resolve(handle.unwrap_or_else(setting)) {
            0 | 1 => Exec::Serial,
            t => Exec::Pool(t),
        }
    }

    /// How many threads may run the tasks (for sizing chunks).
    fn width(&self) -> usize {
        match self {
            Exec::Serial => 1,
            Exec::Pool(t) => *t,
            Exec::External(_) => available(),
        }
    }

    /// Runs `task(i)` for every `i` in `0..count` and returns when all have returned. A
    /// panic of a task is resumed here after the others finished; a parallel-for that does
    /// not run every task exactly once is a panic too.
    pub(crate) fn run(&self, count: usize, task: &(dyn Fn(usize) + Sync)) {
        match self {
            _ if count <= 1 => (0..count).for_each(task),
            Exec::Serial => (0..count).for_each(task),
            Exec::Pool(t) => pool().run(*t, count, task),
            Exec::External(p) => run_external(&**p, count, task),
        }
    }
}

/// Runs the tasks through a caller's parallel-for, checking that each ran once.
fn run_external(p: &dyn ParallelFor, count: usize, task: &(dyn Fn(usize) + Sync)) {
    let ran: Vec<AtomicBool> = (0..count).map(|_| AtomicBool::new(false)).collect();
    let bad = AtomicBool::new(false);
    let panic: Mutex<Option<Box<dyn Any + Send>>> = Mutex::new(None);
    let checked = |i: usize| {
        if i >= count || ran[i].swap(true, Ordering::AcqRel) {
            bad.store(true, Ordering::Relaxed);
            return;
        }
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| task(i))) {
            lock(&panic).get_or_insert(e);
        }
    };
    p.parallel_for(count, &checked);
    let caught = lock(&panic).take();
    if let Some(e) = caught {
        resume_unwind(e);
    }
    let missing = ran.iter().any(|r| !r.load(Ordering::Acquire));
    assert!(
        !missing && !bad.load(Ordering::Relaxed),
        "the parallel-for did not run every task exactly once"
    );
}

/// Splits a batch of `rows` rows of `cols` elements into chunks of whole rows and runs
/// `f(rows_of_chunk)` on each, in parallel when the batch is worth it (at least
/// [`BATCH_MIN_WORK`] elements, rows shorter than the segmented length: longer rows are
/// split inside each row instead) and the handle's setting `threads` allows. Small batches
/// never look at the settings.
///
/// Every batch operation wraps its row loop in this (`Softmax::rows`, `rows_in_place`,
/// `grad_rows`, `cross_entropy_rows`; in the C ABI `CElement::run_grad_rows` and
/// `cross_entropy_rows_impl`). A new batch operation such as `logsumexp_rows` does the same:
/// `for_row_chunks(self.threads, rows, cols, |range| for r in range { ... })`, writing its
/// per-row results through a [`Shared`] pointer as `cross_entropy_rows` writes its losses.
pub(crate) fn for_row_chunks(
    threads: Option<usize>,
    rows: usize,
    cols: usize,
    f: impl Fn(Range<usize>) + Sync,
) {
    if rows < 2
        || rows.saturating_mul(cols) < BATCH_MIN_WORK
        || cols >= crate::segmented::SEGMENT_MIN_LEN
    {
        return f(0..rows);
    }
    let exec = Exec::of(threads);
    if let Exec::Serial = exec {
        return f(0..rows);
    }
    let min_rows = CHUNK_MIN_WORK.div_ceil(cols.max(1));
    let per_chunk = min_rows.max(rows.div_ceil(CHUNKS_PER_THREAD * exec.width()));
    let chunks = rows.div_ceil(per_chunk);
    exec.run(chunks, &|c| {
        let start = c * per_chunk;
        f(start..rows.min(start + per_chunk))
    });
}

/// A value shared by the tasks of one call (raw pointers into the rows; every task touches
/// only its own rows or segment).
#[derive(Clone, Copy)]
pub(crate) struct Shared<T>(pub T);

impl<T: Copy> Shared<T> {
    /// The value (a method, so that closures capture the `Shared`, not its field).
    #[inline(always)]
    pub(crate) fn get(&self) -> T {
        self.0
    }
}

// SAFETY: `Shared` carries pointers to the caller's buffers into the tasks of one call; the
// call partitions the buffers so that no two tasks write the same element and no task reads
// an element another task writes, and every task ends before the call returns.
unsafe impl<T> Sync for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Send for Shared<T> {}

/// Locks a mutex, ignoring poisoning (no lock here is held across user code).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One call's tasks, shared by the calling thread and the workers that hold a ticket.
struct Job {
    /// The call's task, its lifetime erased: only called for claimed indices below `count`,
    /// all of which finish before the call returns (`finished == count`).
    task: *const (dyn Fn(usize) + Sync + 'static),
    count: usize,
    next: AtomicUsize,
    finished: AtomicUsize,
    done: Mutex<()>,
    done_cv: Condvar,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `task` points to a `Sync` closure that outlives every dereference (see `Job::task`);
// everything else is thread-safe.
unsafe impl Send for Job {}
// SAFETY: as above.
unsafe impl Sync for Job {}

impl Job {
    /// Runs unclaimed tasks until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.count {
                return;
            }
            // SAFETY: `i < count` was claimed by this thread alone, so the call has not
            // returned (it waits for this task), and the closure is alive.
            let task = unsafe { &*self.task };
            if let Err(e) = catch_unwind(AssertUnwindSafe(|| task(i))) {
                lock(&self.panic).get_or_insert(e);
            }
            if self.finished.fetch_add(1, Ordering::AcqRel) + 1 == self.count {
                let _g = lock(&self.done);
                self.done_cv.notify_all();
            }
        }
    }
}

/// The built-in pool.
struct Pool {
    state: Mutex<State>,
    cv: Condvar,
    /// Serialises growing and shrinking.
    resize: Mutex<Vec<JoinHandle<()>>>,
    /// Workers started (mirrors `resize`'s length for a lock-free check).
    started: AtomicUsize,
    /// Tickets queued (mirrors `state.tickets.len()`, so that an idle worker can watch for
    /// work without taking the lock).
    pending: AtomicUsize,
}

/// How long a thread that ran out of work keeps checking for more (a worker for the next
/// call's ticket, the calling thread for its last tasks to finish) before it sleeps on a
/// condition variable. Waking a sleeping thread costs tens of microseconds on a virtual
/// machine, a fair part of a batch that takes a few hundred; a call right after another (the
/// usual pattern of a framework) finds its workers awake.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Spins until `ready()` or [`SPIN`] has passed; whether `ready()` held.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= SPIN {
            return ready();
        }
    }
}

struct State {
    tickets: VecDeque<Arc<Job>>,
    /// Workers with an id at or above this end.
    keep: usize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            tickets: VecDeque::new(),
            keep: 0,
        }),
        cv: Condvar::new(),
        resize: Mutex::new(Vec::new()),
        started: AtomicUsize::new(0),
        pending: AtomicUsize::new(0),
    })
}

impl Pool {
    fn run(&'static self, threads: usize, count: usize, task: &(dyn Fn(usize) + Sync)) {
        let helpers = (threads - 1).min(count - 1);
        if self.started.load(Ordering::Acquire) < helpers {
            self.grow(helpers);
        }
        // SAFETY: only the lifetime is erased; see `Job::task`.
        let task: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(task) };
        let job = Arc::new(Job {
            task,
            count,
            next: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            done: Mutex::new(()),
            done_cv: Condvar::new(),
            panic: Mutex::new(None),
        });
        {
            let mut st = lock(&self.state);
            for _ in 0..helpers {
                st.tickets.push_back(Arc::clone(&job));
            }
            self.pending.fetch_add(helpers, Ordering::Release);
        }
        if helpers == 1 {
            self.cv.notify_one();
        } else {
            self.cv.notify_all();
        }
        job.work();
        spin_until(|| job.finished.load(Ordering::Acquire) >= count);
        let mut g = lock(&job.done);
        while job.finished.load(Ordering::Acquire) < count {
            g = job.done_cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        drop(g);
        let panic = lock(&job.panic).take();
        if let Some(e) = panic {
            resume_unwind(e);
        }
    }

    /// Starts workers until `n` run (fewer if the system refuses threads: the calling
    /// thread then does more of the work).
    fn grow(&'static self, n: usize) {
        let mut handles = lock(&self.resize);
        {
            let mut st = lock(&self.state);
            st.keep = st.keep.max(n);
        }
        while handles.len() < n {
            let id = handles.len();
            let spawned = std::thread::Builder::new()
                .name(format!("softmax-{id}"))
                .spawn(move || self.worker(id));
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => break,
            }
        }
        self.started.store(handles.len(), Ordering::Release);
    }

    /// Ends and joins the workers with an id at or above `n`.
    fn shrink(&'static self, n: usize) {
        let mut handles = lock(&self.resize);
        if handles.len() <= n {
            return;
        }
        lock(&self.state).keep = n;
        self.cv.notify_all();
        for h in handles.drain(n..) {
            // A worker never panics (tasks are caught); nothing to report if one did.
            let _ = h.join();
        }
        self.started.store(handles.len(), Ordering::Release);
    }

    fn worker(&self, id: usize) {
        let mut st = lock(&self.state);
        loop {
            if id >= st.keep {
                return;
            }
            if let Some(job) = st.tickets.pop_front() {
                self.pending.fetch_sub(1, Ordering::Relaxed);
                drop(st);
                job.work();
                drop(job);
                st = lock(&self.state);
                continue;
            }
            drop(st);
            let woke = spin_until(|| self.pending.load(Ordering::Acquire) > 0);
            st = lock(&self.state);
            if !woke && st.tickets.is_empty() && id < st.keep {
                st = self.cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn pool_runs_every_task_once() {
        for threads in [2, 3, 8] {
            for count in [1, 2, 5, 100] {
                let hits: Vec<AtomicU64> = (0..count).map(|_| AtomicU64::new(0)).collect();
                Exec::Pool(threads).run(count, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_and_the_pool_survives() {
        for _ in 0..3 {
            let ran = AtomicUsize::new(0);
            let r = catch_unwind(AssertUnwindSafe(|| {
                Exec::Pool(4).run(16, &|i| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    if i % 5 == 3 {
                        panic!("task {i} fails");
                    }
                })
            }));
            assert!(r.is_err());
            // Every task ran (the others were not abandoned), and nothing hangs.
            assert_eq!(ran.load(Ordering::Relaxed), 16);
        }
        let sum = AtomicUsize::new(0);
        Exec::Pool(4).run(10, &|i| {
            sum.fetch_add(i, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 45);
    }

    #[test]
    fn tasks_run_at_the_same_time() {
        // Each task waits (up to 20 s) until every task has started: that only succeeds when
        // the pool really runs them on different threads at once.
        for threads in [2, 4] {
            let started = AtomicUsize::new(0);
            let together = AtomicUsize::new(0);
            Exec::Pool(threads).run(threads, &|_| {
                started.fetch_add(1, Ordering::SeqCst);
                let t0 = std::time::Instant::now();
                while started.load(Ordering::SeqCst) < threads
                    && t0.elapsed() < std::time::Duration::from_secs(20)
                {
                    std::thread::yield_now();
                }
                if started.load(Ordering::SeqCst) == threads {
                    together.fetch_add(1, Ordering::SeqCst);
                }
            });
            assert_eq!(together.load(Ordering::SeqCst), threads);
        }
    }

    #[test]
    fn nested_calls_finish() {
        let sum = AtomicUsize::new(0);
        Exec::Pool(3).run(6, &|_| {
            Exec::Pool(3).run(6, &|j| {
                sum.fetch_add(j, Ordering::Relaxed);
            });
        });
        assert_eq!(sum.load(Ordering::Relaxed), 6 * 15);
    }

    #[test]
    fn chunks_cover_the_batch() {
        for threads in [Some(1), Some(2), Some(3), Some(8)] {
            for (rows, cols) in [(1, 1 << 20), (64, 4096), (1000, 300), (7, 40_000)] {
                let seen: Vec<AtomicU64> = (0..rows).map(|_| AtomicU64::new(0)).collect();
                for_row_chunks(threads, rows, cols, |r| {
                    for i in r {
                        seen[i].fetch_add(1, Ordering::Relaxed);
                    }
                });
                assert!(seen.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn settings_resolve() {
        assert_eq!(resolve(3), 3);
        assert_eq!(resolve(0), available().min(MAX_THREADS));
        assert_eq!(resolve(100_000), MAX_THREADS);
    }
}
