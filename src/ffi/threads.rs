//! THREADS: the thread count and a caller's parallel-for.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::{guard, guard_status, softmax_status};
use crate::parallel::{self, ParallelFor};

/// One task of a call, as handed to a `softmax_parallel_for_fn`: `task(task_ctx, index)`.
#[allow(non_camel_case_types)]
pub type softmax_task_fn = unsafe extern "C" fn(task_ctx: *mut c_void, index: usize);

/// A caller's parallel-for (see `softmax_set_parallel_for`).
type ParallelForFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    task: softmax_task_fn,
    task_ctx: *mut c_void,
    count: usize,
);

/// Sets the number of threads of every later call: `0` means the machine's available
/// parallelism, `1` (the default, unless the environment variable `SOFTMAX_NUM_THREADS` says
/// otherwise when the library is first used) runs every call on the calling thread. Values
/// above 256 count as 256.
///
/// The default is 1 because a library linked into a framework must not oversubscribe the
/// framework's own threads; set it (or install the framework's pool with
/// `softmax_set_parallel_for`) to use more cores. Only calls with enough work use threads: a
/// batch of at least 131072 elements (split into chunks of whole rows), or a single row of at
/// least 131072 elements (split into segments of 65536); smaller calls never touch a thread
/// pool. Results are bit-identical for every thread count, and to the one-thread call.
///
/// The built-in pool keeps its threads alive between calls (parked, not spawned per call);
/// lowering the count ends and joins the surplus threads before returning, so
/// `softmax_set_num_threads(1)` leaves no thread of this library running (for example before
/// unloading the shared library). Safe to call at any time from any thread: calls already
/// running finish with the count they started with.
///
/// Returns `SOFTMAX_STATUS_OK`.
#[no_mangle]
pub extern "C" fn softmax_set_num_threads(n: usize) -> softmax_status {
    guard_status(|| {
        parallel::set_num_threads(n);
        Ok(())
    })
}

/// The number of threads calls use with the built-in pool (the last `softmax_set_num_threads`,
/// or `SOFTMAX_NUM_THREADS`, or 1; with 0 resolved to the available parallelism).
#[no_mangle]
pub extern "C" fn softmax_get_num_threads() -> usize {
    guard(1, parallel::num_threads)
}

/// A C parallel-for and its context.
struct CParallelFor {
    f: ParallelForFn,
    ctx: *mut c_void,
}

// SAFETY: the caller of `softmax_set_parallel_for` promises that `parallel_for` may be called
// with `ctx` from any thread, concurrently (its documented contract).
unsafe impl Send for CParallelFor {}
// SAFETY: as above.
unsafe impl Sync for CParallelFor {}

/// Runs one task for C: `task_ctx` points to the task reference.
unsafe extern "C" fn run_task(task_ctx: *mut c_void, index: usize) {
    // SAFETY: `task_ctx` is the `&&dyn Fn` of `CParallelFor::parallel_for`, alive until
    // `parallel_for` returns, and the caller's parallel-for calls tasks only before that.
    let task = unsafe { &*(task_ctx as *const &(dyn Fn(usize) + Sync)) };
    // The task catches its own panics (`parallel::run_external`); this one only keeps an
    // unwind from ever reaching C.
    let _ = catch_unwind(AssertUnwindSafe(|| task(index)));
}

impl ParallelFor for CParallelFor {
    fn parallel_for(&self, count: usize, task: &(dyn Fn(usize) + Sync)) {
        let task_ref: &(dyn Fn(usize) + Sync) = task;
        let task_ctx = &task_ref as *const &(dyn Fn(usize) + Sync) as *mut c_void;
        // SAFETY: the caller of `softmax_set_parallel_for` promised a function that follows
        // the contract with `ctx`; `task_ctx` stays valid until it returns.
        unsafe { (self.f)(self.ctx, run_task, task_ctx, count) }
    }
}

/// Hands the work of every later call that is worth splitting (see
/// `softmax_set_num_threads`) to the caller's `parallel_for` (a framework's thread pool, as
/// XNNPACK takes a pthreadpool), whatever the thread count; `parallel_for == NULL` restores
/// the built-in pool (and the thread count).
///
/// The contract of `parallel_for(ctx, task, task_ctx, count)`: call `task(task_ctx, i)`
/// exactly once for every `i` in `[0, count)`, on any threads (the calling one included) and
/// in any order, and return only after every one of those calls has returned. It may run the
/// tasks one after another. It is called from any thread that calls this library, possibly
/// from several at once, so it must be thread-safe; `ctx` is passed through untouched and
/// must stay valid until it is replaced and every call that started before has returned. A
/// task never blocks on another task and never calls `parallel_for` itself. If
/// `parallel_for` skips or repeats an index, the call returns
/// `SOFTMAX_STATUS_INTERNAL_ERROR` (outputs may be partly written).
///
/// Results are bit-identical to the built-in pool's and to the one-thread call: the split
/// and the order in which partial results are combined depend only on the sizes.
///
/// Returns `SOFTMAX_STATUS_OK`.
///
/// # Safety
/// `parallel_for` must follow the contract above with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn softmax_set_parallel_for(
    // Written out (not `ParallelForFn`) so that the header shows the signature.
    parallel_for: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            task: softmax_task_fn,
            task_ctx: *mut c_void,
            count: usize,
        ),
    >,
    ctx: *mut c_void,
) -> softmax_status {
    guard_status(|| {
        let p = parallel_for.map(|f| Arc::new(CParallelFor { f, ctx }) as Arc<dyn ParallelFor>);
        parallel::set_parallel_for(p);
        Ok(())
    })
}
