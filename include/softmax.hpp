// softmax.hpp: a header-only C++17 wrapper over the softmax C ABI (softmax.h).
//
// Every C function has a wrapper in namespace `softmax`, taking contiguous ranges of floats
// (std::vector, std::array, std::span, C arrays, or `softmax::view(pointer, size)`) instead of
// pointer and length, and checking that the lengths fit the shape:
//
//   softmax::softmax(x, y);                          // throws softmax::Error on a bad call
//   std::vector<float> p = softmax::softmax(x);      // the same, into a new vector
//   std::error_code ec = softmax::nothrow::softmax(x, y);  // the same, without exceptions
//
// The throwing functions throw `softmax::Error`, a std::system_error whose code() is the
// status (category `softmax::status_category()`, value a SOFTMAX_STATUS_*) and whose what()
// names the function and, for a length that does not fit, the argument. The functions of
// `softmax::nothrow` return that std::error_code instead (empty on success). Nothing owns
// memory: no class here allocates or frees anything except the vector-returning overloads.
// `softmax::Softmax` bundles an algorithm (and flags) for repeated calls.
//
// Beyond softmax, log-softmax and their training passes, the wrapper covers the log-sum-exp
// states of rows in chunks or vocabulary shards (`softmax_lse_state` used as is:
// lse_empty / lse_merge / lse_value, logsumexp_accumulate, normalize, cross_entropy_shard_rows),
// StableMax (stablemax, log_stablemax, their backward passes and cross-entropy), top-k
// gating and sampling (topk_softmax, topk_softmax_rows, sample, sample_rows), and the thread
// settings (set_num_threads, get_num_threads, set_parallel_for).
//
// Link with the library as for C (pkg-config `softmax` / `softmax-static`, or the CMake
// targets `softmax::softmax` / `softmax::softmax_static`).
#ifndef SOFTMAX_HPP
#define SOFTMAX_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "softmax.h"

namespace softmax {

// ---- status -> std::error_code ---------------------------------------------------------------

// The error category of softmax_status values; message() is softmax_status_string.
class status_category_impl : public std::error_category {
  public:
    const char *name() const noexcept override { return "softmax"; }
    std::string message(int status) const override {
        return softmax_status_string(static_cast<softmax_status>(status));
    }
};

inline const std::error_category &status_category() noexcept {
    static const status_category_impl category;
    return category;
}

// The std::error_code of a status: empty (false) for SOFTMAX_STATUS_OK.
inline std::error_code make_error_code(softmax_status status) noexcept {
    if (status == SOFTMAX_STATUS_OK) return {};
    return {static_cast<int>(status), status_category()};
}

// A failed call: code().value() is the SOFTMAX_STATUS_*, what() "function: description".
class Error : public std::system_error {
  public:
    Error(const std::string &what, softmax_status status)
        : std::system_error(make_error_code(status), what) {}
    Error(const std::string &what, std::error_code code) : std::system_error(code, what) {}
    softmax_status status() const noexcept { return static_cast<softmax_status>(code().value()); }
};

// ---- views ---------------------------------------------------------------------------------

// A pointer and a length (a minimal std::span, so that C++17 works too): built from anything
// with data() and size() (std::vector, std::array, std::span, std::string_view-like), from a C
// array, or from a pointer and a length.
template <class T>
class view {
  public:
    constexpr view() noexcept = default;
    constexpr view(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
    template <std::size_t N>
    constexpr view(T (&array)[N]) noexcept : data_(array), size_(N) {}
    template <class C,
              class = std::enable_if_t<
                  !std::is_array_v<std::remove_reference_t<C>> &&
                  std::is_convertible_v<decltype(std::declval<C &>().data()), T *> &&
                  std::is_convertible_v<decltype(std::declval<C &>().size()), std::size_t>>>
    constexpr view(C &&container) noexcept : data_(container.data()), size_(container.size()) {}
    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

using in = view<const float>;
using out = view<float>;

// A thread pool for softmax_set_parallel_for: parallel_for(ctx, task, task_ctx, count) calls
// task(task_ctx, i) once for every i in [0, count), on any threads, and returns when all have
// returned (the contract in softmax.h). It must not throw.
using parallel_for_fn = void (*)(void *ctx, softmax_task_fn task, void *task_ctx,
                                 std::size_t count);

namespace detail {

// Whether `size` elements hold `rows` rows of `cols` at `stride` (a stride below `cols` is
// left to the library, which rejects it).
inline bool fits(std::size_t size, std::size_t rows, std::size_t cols, std::size_t stride) {
    if (rows == 0 || cols == 0 || stride < cols) return true;
    return size >= cols && rows - 1 <= (size - cols) / stride;
}

// Records the first failure: a status, or a length that does not fit (INVALID_ARGUMENT).
struct result {
    std::error_code code;
    std::string what;
    bool size(bool ok, const char *function, const char *argument) {
        if (!ok && !code) {
            code = make_error_code(SOFTMAX_STATUS_INVALID_ARGUMENT);
            what = std::string(function) + ": the length of `" + argument +
                   "` does not fit the shape";
        }
        return !code;
    }
    void status(softmax_status s, const char *function) {
        if (!code && s != SOFTMAX_STATUS_OK) {
            code = make_error_code(s);
            what = function;
        }
    }
    void raise() const {
        if (code) throw Error(what, code);
    }
};

}  // namespace detail

// ---- the operations, each as a result: nothrow::f returns its error ------------------------
//
// The `impl` namespace holds each operation once, as a function returning detail::result;
// `nothrow` returns its code and the namespace `softmax` throws it.
namespace impl {

inline detail::result softmax(in x, out y, std::uint32_t algorithm) {
    detail::result r;
    if (r.size(y.size() == x.size(), "softmax_f32_ex", "y"))
        r.status(softmax_f32_ex(x.data(), y.data(), x.size(), algorithm), "softmax_f32_ex");
    return r;
}

inline detail::result log_softmax(in x, out y) {
    detail::result r;
    if (r.size(y.size() == x.size(), "softmax_log_softmax_f32", "y"))
        r.status(softmax_log_softmax_f32(x.data(), y.data(), x.size()), "softmax_log_softmax_f32");
    return r;
}

inline detail::result logsumexp(in x, float &result) {
    detail::result r;
    r.status(softmax_logsumexp_f32(x.data(), x.size(), &result), "softmax_logsumexp_f32");
    return r;
}

inline detail::result softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                   std::size_t rows, std::size_t cols, std::uint32_t algorithm,
                                   std::uint32_t flags) {
    detail::result r;
    const char *f = "softmax_rows_f32_ex";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y"))
        r.status(softmax_rows_f32_ex(x.data(), x_stride, y.data(), y_stride, rows, cols,
                                     algorithm, flags),
                 f);
    return r;
}

inline detail::result log_softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                       std::size_t rows, std::size_t cols) {
    detail::result r;
    const char *f = "softmax_log_softmax_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y"))
        r.status(softmax_log_softmax_rows_f32(x.data(), x_stride, y.data(), y_stride, rows, cols),
                 f);
    return r;
}

inline detail::result softmax_scaled_rows(in x, std::size_t x_stride, out y,
                                          std::size_t y_stride, std::size_t rows,
                                          std::size_t cols, float scale,
                                          std::uint32_t algorithm) {
    detail::result r;
    const char *f = "softmax_scaled_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y"))
        r.status(softmax_scaled_rows_f32(x.data(), x_stride, y.data(), y_stride, rows, cols,
                                         scale, algorithm),
                 f);
    return r;
}

inline detail::result softmax_scaled(in x, out y, float scale) {
    detail::result r;
    if (r.size(y.size() == x.size(), "softmax_scaled_f32", "y"))
        r.status(softmax_scaled_f32(x.data(), y.data(), x.size(), scale), "softmax_scaled_f32");
    return r;
}

inline detail::result backward_rows(bool log, in y, std::size_t y_stride, in dy,
                                    std::size_t dy_stride, out dx, std::size_t dx_stride,
                                    std::size_t rows, std::size_t cols) {
    detail::result r;
    const char *f =
        log ? "softmax_log_softmax_backward_rows_f32" : "softmax_backward_rows_f32";
    if (r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y") &&
        r.size(detail::fits(dy.size(), rows, cols, dy_stride), f, "dy") &&
        r.size(detail::fits(dx.size(), rows, cols, dx_stride), f, "dx"))
        r.status(log ? softmax_log_softmax_backward_rows_f32(y.data(), y_stride, dy.data(),
                                                             dy_stride, dx.data(), dx_stride,
                                                             rows, cols)
                     : softmax_backward_rows_f32(y.data(), y_stride, dy.data(), dy_stride,
                                                 dx.data(), dx_stride, rows, cols),
                 f);
    return r;
}

inline detail::result backward(bool log, in y, in dy, out dx) {
    detail::result r;
    const char *f = log ? "softmax_log_softmax_backward_f32" : "softmax_backward_f32";
    if (r.size(dy.size() == y.size(), f, "dy") && r.size(dx.size() == y.size(), f, "dx"))
        r.status(log ? softmax_log_softmax_backward_f32(y.data(), dy.data(), dx.data(), y.size())
                     : softmax_backward_f32(y.data(), dy.data(), dx.data(), y.size()),
                 f);
    return r;
}

inline detail::result cross_entropy(in logits, std::size_t target, float &loss,
                                    float *dlogits, std::size_t dlogits_size) {
    detail::result r;
    const char *f = "softmax_cross_entropy_f32";
    if (dlogits == nullptr || r.size(dlogits_size == logits.size(), f, "dlogits"))
        r.status(softmax_cross_entropy_f32(logits.data(), logits.size(), target, &loss, dlogits),
                 f);
    return r;
}

inline detail::result cross_entropy_rows(in logits, std::size_t logits_stride, std::size_t rows,
                                         std::size_t cols, view<const std::int64_t> targets,
                                         std::int64_t ignore_index, float label_smoothing,
                                         out losses, out dlogits, std::size_t dlogits_stride) {
    detail::result r;
    const char *f = "softmax_cross_entropy_rows_f32";
    const bool grad = dlogits.data() != nullptr;
    if (r.size(detail::fits(logits.size(), rows, cols, logits_stride), f, "logits") &&
        r.size(targets.size() == rows, f, "targets") &&
        r.size(losses.size() == rows, f, "losses") &&
        (!grad || r.size(detail::fits(dlogits.size(), rows, cols, dlogits_stride), f, "dlogits")))
        r.status(softmax_cross_entropy_rows_f32(logits.data(), logits_stride, rows, cols,
                                                targets.data(), ignore_index, label_smoothing,
                                                losses.data(), dlogits.data(), dlogits_stride),
                 f);
    return r;
}

inline detail::result logsumexp_rows(in x, std::size_t x_stride, out result, std::size_t rows,
                                     std::size_t cols) {
    detail::result r;
    const char *f = "softmax_logsumexp_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(result.size() == rows, f, "out"))
        r.status(softmax_logsumexp_rows_f32(x.data(), x_stride, result.data(), rows, cols), f);
    return r;
}

// ---- log-sum-exp states (streamed and sharded rows) ----

inline detail::result lse_merge_rows(view<const softmax_lse_state> states,
                                     view<softmax_lse_state> inout) {
    detail::result r;
    const char *f = "softmax_lse_merge_rows";
    if (r.size(inout.size() == states.size(), f, "inout"))
        r.status(softmax_lse_merge_rows(states.data(), inout.data(), states.size()), f);
    return r;
}

inline detail::result logsumexp_accumulate(in x, softmax_lse_state &state) {
    detail::result r;
    r.status(softmax_logsumexp_accumulate_f32(x.data(), x.size(), &state),
             "softmax_logsumexp_accumulate_f32");
    return r;
}

inline detail::result logsumexp_accumulate_rows(in x, std::size_t stride, std::size_t rows,
                                                std::size_t cols,
                                                view<softmax_lse_state> states) {
    detail::result r;
    const char *f = "softmax_logsumexp_accumulate_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, stride), f, "x") &&
        r.size(states.size() == rows, f, "states"))
        r.status(softmax_logsumexp_accumulate_rows_f32(x.data(), stride, rows, cols,
                                                       states.data()),
                 f);
    return r;
}

inline detail::result normalize(bool log, in x, out y, float lse) {
    detail::result r;
    const char *f = log ? "softmax_log_softmax_normalize_f32" : "softmax_normalize_f32";
    if (r.size(y.size() == x.size(), f, "y"))
        r.status(log ? softmax_log_softmax_normalize_f32(x.data(), y.data(), x.size(), lse)
                     : softmax_normalize_f32(x.data(), y.data(), x.size(), lse),
                 f);
    return r;
}

inline detail::result normalize_rows(bool log, in x, std::size_t x_stride, out y,
                                     std::size_t y_stride, std::size_t rows, std::size_t cols,
                                     in lse) {
    detail::result r;
    const char *f =
        log ? "softmax_log_softmax_normalize_rows_f32" : "softmax_normalize_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y") &&
        r.size(lse.size() == rows, f, "lse"))
        r.status(log ? softmax_log_softmax_normalize_rows_f32(x.data(), x_stride, y.data(),
                                                              y_stride, rows, cols, lse.data())
                     : softmax_normalize_rows_f32(x.data(), x_stride, y.data(), y_stride, rows,
                                                  cols, lse.data()),
                 f);
    return r;
}

inline detail::result cross_entropy_shard_rows(in logits, std::size_t logits_stride,
                                               std::size_t rows, std::size_t cols,
                                               std::size_t col_offset, std::size_t total_cols,
                                               view<const std::int64_t> targets,
                                               std::int64_t ignore_index, float label_smoothing,
                                               view<const softmax_lse_state> lse, out losses,
                                               out dlogits, std::size_t dlogits_stride) {
    detail::result r;
    const char *f = "softmax_cross_entropy_shard_rows_f32";
    const bool grad = dlogits.data() != nullptr;
    if (r.size(detail::fits(logits.size(), rows, cols, logits_stride), f, "logits") &&
        r.size(targets.size() == rows, f, "targets") && r.size(lse.size() == rows, f, "lse") &&
        r.size(losses.size() == rows, f, "losses") &&
        (!grad || r.size(detail::fits(dlogits.size(), rows, cols, dlogits_stride), f, "dlogits")))
        r.status(softmax_cross_entropy_shard_rows_f32(
                     logits.data(), logits_stride, rows, cols, col_offset, total_cols,
                     targets.data(), ignore_index, label_smoothing, lse.data(), losses.data(),
                     dlogits.data(), dlogits_stride),
                 f);
    return r;
}

// ---- StableMax ----

inline detail::result stablemax(bool log, in x, out y) {
    detail::result r;
    const char *f = log ? "softmax_log_stablemax_f32" : "softmax_stablemax_f32";
    if (r.size(y.size() == x.size(), f, "y"))
        r.status(log ? softmax_log_stablemax_f32(x.data(), y.data(), x.size())
                     : softmax_stablemax_f32(x.data(), y.data(), x.size()),
                 f);
    return r;
}

inline detail::result stablemax_rows(bool log, in x, std::size_t x_stride, out y,
                                     std::size_t y_stride, std::size_t rows, std::size_t cols) {
    detail::result r;
    const char *f = log ? "softmax_log_stablemax_rows_f32" : "softmax_stablemax_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(y.size(), rows, cols, y_stride), f, "y"))
        r.status(log ? softmax_log_stablemax_rows_f32(x.data(), x_stride, y.data(), y_stride,
                                                      rows, cols)
                     : softmax_stablemax_rows_f32(x.data(), x_stride, y.data(), y_stride, rows,
                                                  cols),
                 f);
    return r;
}

// The StableMax backward passes take the forward INPUT x (not the output).
inline detail::result stablemax_backward(bool log, in x, in dy, out dx) {
    detail::result r;
    const char *f =
        log ? "softmax_log_stablemax_backward_f32" : "softmax_stablemax_backward_f32";
    if (r.size(dy.size() == x.size(), f, "dy") && r.size(dx.size() == x.size(), f, "dx"))
        r.status(log ? softmax_log_stablemax_backward_f32(x.data(), dy.data(), dx.data(),
                                                          x.size())
                     : softmax_stablemax_backward_f32(x.data(), dy.data(), dx.data(), x.size()),
                 f);
    return r;
}

inline detail::result stablemax_backward_rows(bool log, in x, std::size_t x_stride, in dy,
                                              std::size_t dy_stride, out dx,
                                              std::size_t dx_stride, std::size_t rows,
                                              std::size_t cols) {
    detail::result r;
    const char *f = log ? "softmax_log_stablemax_backward_rows_f32"
                        : "softmax_stablemax_backward_rows_f32";
    if (r.size(detail::fits(x.size(), rows, cols, x_stride), f, "x") &&
        r.size(detail::fits(dy.size(), rows, cols, dy_stride), f, "dy") &&
        r.size(detail::fits(dx.size(), rows, cols, dx_stride), f, "dx"))
        r.status(log ? softmax_log_stablemax_backward_rows_f32(x.data(), x_stride, dy.data(),
                                                               dy_stride, dx.data(), dx_stride,
                                                               rows, cols)
                     : softmax_stablemax_backward_rows_f32(x.data(), x_stride, dy.data(),
                                                           dy_stride, dx.data(), dx_stride, rows,
                                                           cols),
                 f);
    return r;
}

inline detail::result stablemax_cross_entropy(in logits, std::size_t target, float &loss,
                                              float *dlogits, std::size_t dlogits_size) {
    detail::result r;
    const char *f = "softmax_stablemax_cross_entropy_f32";
    if (dlogits == nullptr || r.size(dlogits_size == logits.size(), f, "dlogits"))
        r.status(softmax_stablemax_cross_entropy_f32(logits.data(), logits.size(), target, &loss,
                                                     dlogits),
                 f);
    return r;
}

inline detail::result stablemax_cross_entropy_rows(in logits, std::size_t logits_stride,
                                                   std::size_t rows, std::size_t cols,
                                                   view<const std::int64_t> targets,
                                                   std::int64_t ignore_index,
                                                   float label_smoothing, out losses,
                                                   out dlogits, std::size_t dlogits_stride) {
    detail::result r;
    const char *f = "softmax_stablemax_cross_entropy_rows_f32";
    const bool grad = dlogits.data() != nullptr;
    if (r.size(detail::fits(logits.size(), rows, cols, logits_stride), f, "logits") &&
        r.size(targets.size() == rows, f, "targets") &&
        r.size(losses.size() == rows, f, "losses") &&
        (!grad || r.size(detail::fits(dlogits.size(), rows, cols, dlogits_stride), f, "dlogits")))
        r.status(softmax_stablemax_cross_entropy_rows_f32(
                     logits.data(), logits_stride, rows, cols, targets.data(), ignore_index,
                     label_smoothing, losses.data(), dlogits.data(), dlogits_stride),
                 f);
    return r;
}

// ---- top-k gating and sampling ----

inline detail::result topk_softmax_rows(in logits, std::size_t stride, std::size_t rows,
                                        std::size_t cols, std::size_t k, float scale,
                                        std::uint32_t flags, out weights,
                                        std::size_t weights_stride,
                                        view<std::int32_t> indices,
                                        std::size_t indices_stride) {
    detail::result r;
    const char *f = "softmax_topk_softmax_rows_scaled_f32";
    if (r.size(detail::fits(logits.size(), rows, cols, stride), f, "logits") &&
        r.size(detail::fits(weights.size(), rows, k, weights_stride), f, "weights") &&
        r.size(detail::fits(indices.size(), rows, k, indices_stride), f, "indices"))
        r.status(softmax_topk_softmax_rows_scaled_f32(logits.data(), stride, rows, cols, k,
                                                      scale, flags, weights.data(),
                                                      weights_stride, indices.data(),
                                                      indices_stride),
                 f);
    return r;
}

inline detail::result sample(in logits, float temperature, std::size_t top_k, float top_p,
                             float u, std::size_t &index) {
    detail::result r;
    r.status(softmax_sample_f32(logits.data(), logits.size(), temperature, top_k, top_p, u,
                                &index),
             "softmax_sample_f32");
    return r;
}

inline detail::result sample_rows(in logits, std::size_t stride, std::size_t rows,
                                  std::size_t cols, float temperature, std::size_t top_k,
                                  float top_p, in u, view<std::size_t> indices) {
    detail::result r;
    const char *f = "softmax_sample_rows_f32";
    if (r.size(detail::fits(logits.size(), rows, cols, stride), f, "logits") &&
        r.size(u.size() == rows, f, "u") && r.size(indices.size() == rows, f, "indices"))
        r.status(softmax_sample_rows_f32(logits.data(), stride, rows, cols, temperature, top_k,
                                         top_p, u.data(), indices.data()),
                 f);
    return r;
}

}  // namespace impl

// ---- std::error_code versions ----------------------------------------------------------------

namespace nothrow {

// softmax_f32 / softmax_f32_ex: y = softmax(x); y may be x.
inline std::error_code softmax(in x, out y, std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) {
    return impl::softmax(x, y, algorithm).code;
}
// softmax_log_softmax_f32.
inline std::error_code log_softmax(in x, out y) { return impl::log_softmax(x, y).code; }
// softmax_logsumexp_f32.
inline std::error_code logsumexp(in x, float &result) { return impl::logsumexp(x, result).code; }
// softmax_rows_f32 / softmax_rows_f32_ex (strides in elements).
inline std::error_code softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                    std::size_t rows, std::size_t cols,
                                    std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO,
                                    std::uint32_t flags = 0) {
    return impl::softmax_rows(x, x_stride, y, y_stride, rows, cols, algorithm, flags).code;
}
// softmax_log_softmax_rows_f32.
inline std::error_code log_softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                        std::size_t rows, std::size_t cols) {
    return impl::log_softmax_rows(x, x_stride, y, y_stride, rows, cols).code;
}
// softmax_scaled_f32.
inline std::error_code softmax_scaled(in x, out y, float scale) {
    return impl::softmax_scaled(x, y, scale).code;
}
// softmax_scaled_rows_f32.
inline std::error_code softmax_scaled_rows(in x, std::size_t x_stride, out y,
                                           std::size_t y_stride, std::size_t rows,
                                           std::size_t cols, float scale,
                                           std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) {
    return impl::softmax_scaled_rows(x, x_stride, y, y_stride, rows, cols, scale, algorithm)
        .code;
}
// softmax_backward_f32.
inline std::error_code softmax_backward(in y, in dy, out dx) {
    return impl::backward(false, y, dy, dx).code;
}
// softmax_log_softmax_backward_f32.
inline std::error_code log_softmax_backward(in y, in dy, out dx) {
    return impl::backward(true, y, dy, dx).code;
}
// softmax_backward_rows_f32.
inline std::error_code softmax_backward_rows(in y, std::size_t y_stride, in dy,
                                             std::size_t dy_stride, out dx,
                                             std::size_t dx_stride, std::size_t rows,
                                             std::size_t cols) {
    return impl::backward_rows(false, y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols)
        .code;
}
// softmax_log_softmax_backward_rows_f32.
inline std::error_code log_softmax_backward_rows(in y, std::size_t y_stride, in dy,
                                                 std::size_t dy_stride, out dx,
                                                 std::size_t dx_stride, std::size_t rows,
                                                 std::size_t cols) {
    return impl::backward_rows(true, y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols).code;
}
// softmax_cross_entropy_f32, loss only.
inline std::error_code cross_entropy(in logits, std::size_t target, float &loss) {
    return impl::cross_entropy(logits, target, loss, nullptr, 0).code;
}
// softmax_cross_entropy_f32, loss and gradient (dlogits may be the logits).
inline std::error_code cross_entropy(in logits, std::size_t target, float &loss, out dlogits) {
    return impl::cross_entropy(logits, target, loss, dlogits.data(), dlogits.size()).code;
}
// softmax_cross_entropy_rows_f32 (an empty `dlogits` view: no gradient).
inline std::error_code cross_entropy_rows(in logits, std::size_t logits_stride,
                                          std::size_t rows, std::size_t cols,
                                          view<const std::int64_t> targets,
                                          std::int64_t ignore_index, float label_smoothing,
                                          out losses, out dlogits = {},
                                          std::size_t dlogits_stride = 0) {
    return impl::cross_entropy_rows(logits, logits_stride, rows, cols, targets, ignore_index,
                                    label_smoothing, losses, dlogits, dlogits_stride)
        .code;
}
// softmax_set_isa.
inline std::error_code set_isa(std::uint32_t isa) { return make_error_code(softmax_set_isa(isa)); }

// softmax_logsumexp_rows_f32: out[r] = the log-sum-exp of row r (out holds `rows` floats).
inline std::error_code logsumexp_rows(in x, std::size_t x_stride, out result, std::size_t rows,
                                      std::size_t cols) {
    return impl::logsumexp_rows(x, x_stride, result, rows, cols).code;
}
// softmax_lse_merge_rows: inout[i] = merge(inout[i], states[i]) (same lengths).
inline std::error_code lse_merge_rows(view<const softmax_lse_state> states,
                                      view<softmax_lse_state> inout) {
    return impl::lse_merge_rows(states, inout).code;
}
// softmax_logsumexp_accumulate_f32: merges the state of x into `state`.
inline std::error_code logsumexp_accumulate(in x, softmax_lse_state &state) {
    return impl::logsumexp_accumulate(x, state).code;
}
// softmax_logsumexp_accumulate_rows_f32 (states holds `rows` states).
inline std::error_code logsumexp_accumulate_rows(in x, std::size_t stride, std::size_t rows,
                                                 std::size_t cols,
                                                 view<softmax_lse_state> states) {
    return impl::logsumexp_accumulate_rows(x, stride, rows, cols, states).code;
}
// softmax_normalize_f32: y = exp(x - lse).
inline std::error_code normalize(in x, out y, float lse) {
    return impl::normalize(false, x, y, lse).code;
}
// softmax_log_softmax_normalize_f32: y = x - lse.
inline std::error_code log_softmax_normalize(in x, out y, float lse) {
    return impl::normalize(true, x, y, lse).code;
}
// softmax_normalize_rows_f32 (lse holds `rows` floats).
inline std::error_code normalize_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                      std::size_t rows, std::size_t cols, in lse) {
    return impl::normalize_rows(false, x, x_stride, y, y_stride, rows, cols, lse).code;
}
// softmax_log_softmax_normalize_rows_f32 (lse holds `rows` floats).
inline std::error_code log_softmax_normalize_rows(in x, std::size_t x_stride, out y,
                                                  std::size_t y_stride, std::size_t rows,
                                                  std::size_t cols, in lse) {
    return impl::normalize_rows(true, x, x_stride, y, y_stride, rows, cols, lse).code;
}
// softmax_cross_entropy_shard_rows_f32 (an empty `dlogits` view: no gradient).
inline std::error_code cross_entropy_shard_rows(
    in logits, std::size_t logits_stride, std::size_t rows, std::size_t cols,
    std::size_t col_offset, std::size_t total_cols, view<const std::int64_t> targets,
    std::int64_t ignore_index, float label_smoothing, view<const softmax_lse_state> lse,
    out losses, out dlogits = {}, std::size_t dlogits_stride = 0) {
    return impl::cross_entropy_shard_rows(logits, logits_stride, rows, cols, col_offset,
                                          total_cols, targets, ignore_index, label_smoothing,
                                          lse, losses, dlogits, dlogits_stride)
        .code;
}
// softmax_stablemax_f32.
inline std::error_code stablemax(in x, out y) { return impl::stablemax(false, x, y).code; }
// softmax_log_stablemax_f32.
inline std::error_code log_stablemax(in x, out y) { return impl::stablemax(true, x, y).code; }
// softmax_stablemax_rows_f32.
inline std::error_code stablemax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                      std::size_t rows, std::size_t cols) {
    return impl::stablemax_rows(false, x, x_stride, y, y_stride, rows, cols).code;
}
// softmax_log_stablemax_rows_f32.
inline std::error_code log_stablemax_rows(in x, std::size_t x_stride, out y,
                                          std::size_t y_stride, std::size_t rows,
                                          std::size_t cols) {
    return impl::stablemax_rows(true, x, x_stride, y, y_stride, rows, cols).code;
}
// softmax_stablemax_backward_f32 (x: the forward input).
inline std::error_code stablemax_backward(in x, in dy, out dx) {
    return impl::stablemax_backward(false, x, dy, dx).code;
}
// softmax_log_stablemax_backward_f32 (x: the forward input).
inline std::error_code log_stablemax_backward(in x, in dy, out dx) {
    return impl::stablemax_backward(true, x, dy, dx).code;
}
// softmax_stablemax_backward_rows_f32 (x: the forward input).
inline std::error_code stablemax_backward_rows(in x, std::size_t x_stride, in dy,
                                               std::size_t dy_stride, out dx,
                                               std::size_t dx_stride, std::size_t rows,
                                               std::size_t cols) {
    return impl::stablemax_backward_rows(false, x, x_stride, dy, dy_stride, dx, dx_stride, rows,
                                         cols)
        .code;
}
// softmax_log_stablemax_backward_rows_f32 (x: the forward input).
inline std::error_code log_stablemax_backward_rows(in x, std::size_t x_stride, in dy,
                                                   std::size_t dy_stride, out dx,
                                                   std::size_t dx_stride, std::size_t rows,
                                                   std::size_t cols) {
    return impl::stablemax_backward_rows(true, x, x_stride, dy, dy_stride, dx, dx_stride, rows,
                                         cols)
        .code;
}
// softmax_stablemax_cross_entropy_f32, loss only.
inline std::error_code stablemax_cross_entropy(in logits, std::size_t target, float &loss) {
    return impl::stablemax_cross_entropy(logits, target, loss, nullptr, 0).code;
}
// softmax_stablemax_cross_entropy_f32, loss and gradient (dlogits may be the logits).
inline std::error_code stablemax_cross_entropy(in logits, std::size_t target, float &loss,
                                               out dlogits) {
    return impl::stablemax_cross_entropy(logits, target, loss, dlogits.data(), dlogits.size())
        .code;
}
// softmax_stablemax_cross_entropy_rows_f32 (an empty `dlogits` view: no gradient).
inline std::error_code stablemax_cross_entropy_rows(in logits, std::size_t logits_stride,
                                                    std::size_t rows, std::size_t cols,
                                                    view<const std::int64_t> targets,
                                                    std::int64_t ignore_index,
                                                    float label_smoothing, out losses,
                                                    out dlogits = {},
                                                    std::size_t dlogits_stride = 0) {
    return impl::stablemax_cross_entropy_rows(logits, logits_stride, rows, cols, targets,
                                              ignore_index, label_smoothing, losses, dlogits,
                                              dlogits_stride)
        .code;
}
// softmax_set_num_threads.
inline std::error_code set_num_threads(std::size_t n) {
    return make_error_code(softmax_set_num_threads(n));
}
// softmax_set_parallel_for (nullptr: the built-in pool again).
inline std::error_code set_parallel_for(parallel_for_fn parallel_for, void *ctx = nullptr) {
    return make_error_code(softmax_set_parallel_for(parallel_for, ctx));
}

// softmax_topk_softmax_rows_scaled_f32 for one row: the k = weights.size() largest logits'
// indices (descending) and weights (flags: SOFTMAX_TOPK_RENORMALIZE).
inline std::error_code topk_softmax(in logits, out weights, view<std::int32_t> indices,
                                    std::uint32_t flags = 0, float scale = 1.0f) {
    if (indices.size() != weights.size())
        return make_error_code(SOFTMAX_STATUS_INVALID_ARGUMENT);
    return impl::topk_softmax_rows(logits, logits.size(), 1, logits.size(), weights.size(),
                                   scale, flags, weights, weights.size(), indices,
                                   indices.size())
        .code;
}
// softmax_topk_softmax_rows_scaled_f32.
inline std::error_code topk_softmax_rows(in logits, std::size_t stride, std::size_t rows,
                                         std::size_t cols, std::size_t k, out weights,
                                         std::size_t weights_stride,
                                         view<std::int32_t> indices,
                                         std::size_t indices_stride, std::uint32_t flags = 0,
                                         float scale = 1.0f) {
    return impl::topk_softmax_rows(logits, stride, rows, cols, k, scale, flags, weights,
                                   weights_stride, indices, indices_stride)
        .code;
}
// softmax_sample_f32.
inline std::error_code sample(in logits, float temperature, std::size_t top_k, float top_p,
                              float u, std::size_t &index) {
    return impl::sample(logits, temperature, top_k, top_p, u, index).code;
}
// softmax_sample_rows_f32.
inline std::error_code sample_rows(in logits, std::size_t stride, std::size_t rows,
                                   std::size_t cols, float temperature, std::size_t top_k,
                                   float top_p, in u, view<std::size_t> indices) {
    return impl::sample_rows(logits, stride, rows, cols, temperature, top_k, top_p, u, indices)
        .code;
}

}  // namespace nothrow

// ---- throwing versions -----------------------------------------------------------------------

// softmax_f32 / softmax_f32_ex: y = softmax(x); y may be x.
inline void softmax(in x, out y, std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) {
    impl::softmax(x, y, algorithm).raise();
}
inline std::vector<float> softmax(in x, std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) {
    std::vector<float> y(x.size());
    softmax(x, y, algorithm);
    return y;
}
// softmax_log_softmax_f32.
inline void log_softmax(in x, out y) { impl::log_softmax(x, y).raise(); }
inline std::vector<float> log_softmax(in x) {
    std::vector<float> y(x.size());
    log_softmax(x, y);
    return y;
}
// softmax_logsumexp_f32.
inline float logsumexp(in x) {
    float result = 0.0f;
    impl::logsumexp(x, result).raise();
    return result;
}
// softmax_rows_f32 / softmax_rows_f32_ex (strides in elements).
inline void softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                         std::size_t rows, std::size_t cols,
                         std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO,
                         std::uint32_t flags = 0) {
    impl::softmax_rows(x, x_stride, y, y_stride, rows, cols, algorithm, flags).raise();
}
// Contiguous rows (stride = cols).
inline void softmax_rows(in x, out y, std::size_t rows, std::size_t cols,
                         std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO,
                         std::uint32_t flags = 0) {
    softmax_rows(x, cols, y, cols, rows, cols, algorithm, flags);
}
// softmax_log_softmax_rows_f32.
inline void log_softmax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                             std::size_t rows, std::size_t cols) {
    impl::log_softmax_rows(x, x_stride, y, y_stride, rows, cols).raise();
}
inline void log_softmax_rows(in x, out y, std::size_t rows, std::size_t cols) {
    log_softmax_rows(x, cols, y, cols, rows, cols);
}
// softmax_scaled_f32: y = softmax(scale * x).
inline void softmax_scaled(in x, out y, float scale) {
    impl::softmax_scaled(x, y, scale).raise();
}
inline std::vector<float> softmax_scaled(in x, float scale) {
    std::vector<float> y(x.size());
    softmax_scaled(x, y, scale);
    return y;
}
// softmax_scaled_rows_f32.
inline void softmax_scaled_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                std::size_t rows, std::size_t cols, float scale,
                                std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) {
    impl::softmax_scaled_rows(x, x_stride, y, y_stride, rows, cols, scale, algorithm).raise();
}
// softmax_backward_f32: dx from the softmax output y and its gradient dy.
inline void softmax_backward(in y, in dy, out dx) { impl::backward(false, y, dy, dx).raise(); }
inline std::vector<float> softmax_backward(in y, in dy) {
    std::vector<float> dx(y.size());
    softmax_backward(y, dy, dx);
    return dx;
}
// softmax_log_softmax_backward_f32: dx from the log-softmax output y and its gradient dy.
inline void log_softmax_backward(in y, in dy, out dx) { impl::backward(true, y, dy, dx).raise(); }
inline std::vector<float> log_softmax_backward(in y, in dy) {
    std::vector<float> dx(y.size());
    log_softmax_backward(y, dy, dx);
    return dx;
}
// softmax_backward_rows_f32.
inline void softmax_backward_rows(in y, std::size_t y_stride, in dy, std::size_t dy_stride,
                                  out dx, std::size_t dx_stride, std::size_t rows,
                                  std::size_t cols) {
    impl::backward_rows(false, y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols).raise();
}
// softmax_log_softmax_backward_rows_f32.
inline void log_softmax_backward_rows(in y, std::size_t y_stride, in dy, std::size_t dy_stride,
                                      out dx, std::size_t dx_stride, std::size_t rows,
                                      std::size_t cols) {
    impl::backward_rows(true, y, y_stride, dy, dy_stride, dx, dx_stride, rows, cols).raise();
}
// softmax_cross_entropy_f32: the loss of one row.
inline float cross_entropy(in logits, std::size_t target) {
    float loss = 0.0f;
    impl::cross_entropy(logits, target, loss, nullptr, 0).raise();
    return loss;
}
// The loss, and the gradient softmax(logits) - onehot(target) into dlogits (may be logits).
inline float cross_entropy(in logits, std::size_t target, out dlogits) {
    float loss = 0.0f;
    impl::cross_entropy(logits, target, loss, dlogits.data(), dlogits.size()).raise();
    return loss;
}
// softmax_cross_entropy_rows_f32 (an empty `dlogits` view: no gradient).
inline void cross_entropy_rows(in logits, std::size_t logits_stride, std::size_t rows,
                               std::size_t cols, view<const std::int64_t> targets,
                               std::int64_t ignore_index, float label_smoothing, out losses,
                               out dlogits = {}, std::size_t dlogits_stride = 0) {
    impl::cross_entropy_rows(logits, logits_stride, rows, cols, targets, ignore_index,
                             label_smoothing, losses, dlogits, dlogits_stride)
        .raise();
}

// softmax_logsumexp_rows_f32: out[r] = the log-sum-exp of row r (out holds `rows` floats).
inline void logsumexp_rows(in x, std::size_t x_stride, out result, std::size_t rows,
                           std::size_t cols) {
    impl::logsumexp_rows(x, x_stride, result, rows, cols).raise();
}
inline void logsumexp_rows(in x, out result, std::size_t rows, std::size_t cols) {
    logsumexp_rows(x, cols, result, rows, cols);
}
// Contiguous rows, into a new vector of `rows` floats.
inline std::vector<float> logsumexp_rows(in x, std::size_t rows, std::size_t cols) {
    std::vector<float> result(rows);
    logsumexp_rows(x, cols, result, rows, cols);
    return result;
}

// ---- log-sum-exp states: a row in chunks or shards -----------------------------------------
//
// softmax_lse_state is used as is (a plain 16-byte value): start from lse_empty(), accumulate
// chunks into it, merge states in any grouping, read the log-sum-exp with lse_value(), then
// normalise each chunk (normalize / log_softmax_normalize) or take a shard's cross-entropy.

// softmax_lse_empty: the empty state (value -inf), the identity of lse_merge.
inline softmax_lse_state lse_empty() noexcept { return softmax_lse_empty(); }
// softmax_lse_merge: the state of the union of the chunks of a and b.
inline softmax_lse_state lse_merge(softmax_lse_state a, softmax_lse_state b) noexcept {
    return softmax_lse_merge(a, b);
}
// softmax_lse_value: the log-sum-exp of a state.
inline float lse_value(softmax_lse_state s) noexcept { return softmax_lse_value(s); }
// softmax_lse_from_value: the state of a chunk whose log-sum-exp is `lse`.
inline softmax_lse_state lse_from_value(float lse) noexcept { return softmax_lse_from_value(lse); }
// softmax_lse_merge_rows: inout[i] = merge(inout[i], states[i]) (same lengths).
inline void lse_merge_rows(view<const softmax_lse_state> states, view<softmax_lse_state> inout) {
    impl::lse_merge_rows(states, inout).raise();
}
// softmax_logsumexp_accumulate_f32: merges the state of the chunk x into `state`.
inline void logsumexp_accumulate(in x, softmax_lse_state &state) {
    impl::logsumexp_accumulate(x, state).raise();
}
// The state of the chunk x alone (accumulated into lse_empty()).
inline softmax_lse_state logsumexp_accumulate(in x) {
    softmax_lse_state state = lse_empty();
    logsumexp_accumulate(x, state);
    return state;
}
// softmax_logsumexp_accumulate_rows_f32: row r (at r * stride) is merged into states[r].
inline void logsumexp_accumulate_rows(in x, std::size_t stride, std::size_t rows,
                                      std::size_t cols, view<softmax_lse_state> states) {
    impl::logsumexp_accumulate_rows(x, stride, rows, cols, states).raise();
}
inline void logsumexp_accumulate_rows(in x, std::size_t rows, std::size_t cols,
                                      view<softmax_lse_state> states) {
    logsumexp_accumulate_rows(x, cols, rows, cols, states);
}
// The states of the contiguous rows alone, in a new vector of `rows` states.
inline std::vector<softmax_lse_state> logsumexp_accumulate_rows(in x, std::size_t rows,
                                                                std::size_t cols) {
    std::vector<softmax_lse_state> states(rows, lse_empty());
    logsumexp_accumulate_rows(x, cols, rows, cols, states);
    return states;
}
// softmax_normalize_f32: y = exp(x - lse), the softmax of a chunk of a row of log-sum-exp lse.
inline void normalize(in x, out y, float lse) { impl::normalize(false, x, y, lse).raise(); }
inline std::vector<float> normalize(in x, float lse) {
    std::vector<float> y(x.size());
    normalize(x, y, lse);
    return y;
}
// softmax_log_softmax_normalize_f32: y = x - lse.
inline void log_softmax_normalize(in x, out y, float lse) {
    impl::normalize(true, x, y, lse).raise();
}
inline std::vector<float> log_softmax_normalize(in x, float lse) {
    std::vector<float> y(x.size());
    log_softmax_normalize(x, y, lse);
    return y;
}
// softmax_normalize_rows_f32: row r normalised by lse[r] (lse holds `rows` floats).
inline void normalize_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                           std::size_t rows, std::size_t cols, in lse) {
    impl::normalize_rows(false, x, x_stride, y, y_stride, rows, cols, lse).raise();
}
inline void normalize_rows(in x, out y, std::size_t rows, std::size_t cols, in lse) {
    normalize_rows(x, cols, y, cols, rows, cols, lse);
}
// softmax_log_softmax_normalize_rows_f32 (lse holds `rows` floats).
inline void log_softmax_normalize_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                                       std::size_t rows, std::size_t cols, in lse) {
    impl::normalize_rows(true, x, x_stride, y, y_stride, rows, cols, lse).raise();
}
inline void log_softmax_normalize_rows(in x, out y, std::size_t rows, std::size_t cols,
                                       in lse) {
    log_softmax_normalize_rows(x, cols, y, cols, rows, cols, lse);
}
// softmax_cross_entropy_shard_rows_f32: the losses (and with `dlogits`, the gradient) of the
// columns [col_offset, col_offset + cols) of rows of total_cols logits, given the merged
// states `lse` of the whole rows (targets, lse and losses hold `rows` values each; an empty
// `dlogits` view: no gradient).
inline void cross_entropy_shard_rows(in logits, std::size_t logits_stride, std::size_t rows,
                                     std::size_t cols, std::size_t col_offset,
                                     std::size_t total_cols, view<const std::int64_t> targets,
                                     std::int64_t ignore_index, float label_smoothing,
                                     view<const softmax_lse_state> lse, out losses,
                                     out dlogits = {}, std::size_t dlogits_stride = 0) {
    impl::cross_entropy_shard_rows(logits, logits_stride, rows, cols, col_offset, total_cols,
                                   targets, ignore_index, label_smoothing, lse, losses, dlogits,
                                   dlogits_stride)
        .raise();
}

// ---- StableMax -------------------------------------------------------------------------------

// softmax_stablemax_f32: y = StableMax(x); y may be x.
inline void stablemax(in x, out y) { impl::stablemax(false, x, y).raise(); }
inline std::vector<float> stablemax(in x) {
    std::vector<float> y(x.size());
    stablemax(x, y);
    return y;
}
// softmax_log_stablemax_f32.
inline void log_stablemax(in x, out y) { impl::stablemax(true, x, y).raise(); }
inline std::vector<float> log_stablemax(in x) {
    std::vector<float> y(x.size());
    log_stablemax(x, y);
    return y;
}
// softmax_stablemax_rows_f32 (strides in elements).
inline void stablemax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                           std::size_t rows, std::size_t cols) {
    impl::stablemax_rows(false, x, x_stride, y, y_stride, rows, cols).raise();
}
inline void stablemax_rows(in x, out y, std::size_t rows, std::size_t cols) {
    stablemax_rows(x, cols, y, cols, rows, cols);
}
// softmax_log_stablemax_rows_f32.
inline void log_stablemax_rows(in x, std::size_t x_stride, out y, std::size_t y_stride,
                               std::size_t rows, std::size_t cols) {
    impl::stablemax_rows(true, x, x_stride, y, y_stride, rows, cols).raise();
}
inline void log_stablemax_rows(in x, out y, std::size_t rows, std::size_t cols) {
    log_stablemax_rows(x, cols, y, cols, rows, cols);
}
// softmax_stablemax_backward_f32: dx from the forward INPUT x and the output gradient dy.
inline void stablemax_backward(in x, in dy, out dx) {
    impl::stablemax_backward(false, x, dy, dx).raise();
}
inline std::vector<float> stablemax_backward(in x, in dy) {
    std::vector<float> dx(x.size());
    stablemax_backward(x, dy, dx);
    return dx;
}
// softmax_log_stablemax_backward_f32: dx from the forward INPUT x and the output gradient dy.
inline void log_stablemax_backward(in x, in dy, out dx) {
    impl::stablemax_backward(true, x, dy, dx).raise();
}
inline std::vector<float> log_stablemax_backward(in x, in dy) {
    std::vector<float> dx(x.size());
    log_stablemax_backward(x, dy, dx);
    return dx;
}
// softmax_stablemax_backward_rows_f32 (x: the forward input).
inline void stablemax_backward_rows(in x, std::size_t x_stride, in dy, std::size_t dy_stride,
                                    out dx, std::size_t dx_stride, std::size_t rows,
                                    std::size_t cols) {
    impl::stablemax_backward_rows(false, x, x_stride, dy, dy_stride, dx, dx_stride, rows, cols)
        .raise();
}
// softmax_log_stablemax_backward_rows_f32 (x: the forward input).
inline void log_stablemax_backward_rows(in x, std::size_t x_stride, in dy,
                                        std::size_t dy_stride, out dx, std::size_t dx_stride,
                                        std::size_t rows, std::size_t cols) {
    impl::stablemax_backward_rows(true, x, x_stride, dy, dy_stride, dx, dx_stride, rows, cols)
        .raise();
}
// softmax_stablemax_cross_entropy_f32: the StableMax loss of one row.
inline float stablemax_cross_entropy(in logits, std::size_t target) {
    float loss = 0.0f;
    impl::stablemax_cross_entropy(logits, target, loss, nullptr, 0).raise();
    return loss;
}
// The loss, and its gradient with respect to the logits into dlogits (may be logits).
inline float stablemax_cross_entropy(in logits, std::size_t target, out dlogits) {
    float loss = 0.0f;
    impl::stablemax_cross_entropy(logits, target, loss, dlogits.data(), dlogits.size()).raise();
    return loss;
}
// softmax_stablemax_cross_entropy_rows_f32 (an empty `dlogits` view: no gradient).
inline void stablemax_cross_entropy_rows(in logits, std::size_t logits_stride, std::size_t rows,
                                         std::size_t cols, view<const std::int64_t> targets,
                                         std::int64_t ignore_index, float label_smoothing,
                                         out losses, out dlogits = {},
                                         std::size_t dlogits_stride = 0) {
    impl::stablemax_cross_entropy_rows(logits, logits_stride, rows, cols, targets, ignore_index,
                                       label_smoothing, losses, dlogits, dlogits_stride)
        .raise();
}

// ---- ISA selection and strings -------------------------------------------------------------

// softmax_get_isa: the SOFTMAX_ISA_* in use.
inline std::uint32_t get_isa() noexcept { return softmax_get_isa(); }
// softmax_isa_supported.
inline bool isa_supported(std::uint32_t isa) noexcept { return softmax_isa_supported(isa) != 0; }
// softmax_set_isa: throws for an unknown or unsupported ISA.
inline void set_isa(std::uint32_t isa) {
    const softmax_status s = softmax_set_isa(isa);
    if (s != SOFTMAX_STATUS_OK) throw Error("softmax_set_isa", s);
}
// softmax_isa_name.
inline const char *isa_name(std::uint32_t isa) noexcept { return softmax_isa_name(isa); }
// softmax_status_string.
inline const char *status_string(softmax_status status) noexcept {
    return softmax_status_string(status);
}
// softmax_version.
inline const char *version() noexcept { return softmax_version(); }

// ---- threads -------------------------------------------------------------------------------

// softmax_set_num_threads: the thread count of later calls (0: the available parallelism).
inline void set_num_threads(std::size_t n) {
    const softmax_status s = softmax_set_num_threads(n);
    if (s != SOFTMAX_STATUS_OK) throw Error("softmax_set_num_threads", s);
}
// softmax_get_num_threads.
inline std::size_t get_num_threads() noexcept { return softmax_get_num_threads(); }
// softmax_set_parallel_for: hands the split work of later calls to the caller's pool
// (see parallel_for_fn); nullptr restores the built-in pool.
inline void set_parallel_for(parallel_for_fn parallel_for, void *ctx = nullptr) {
    const softmax_status s = softmax_set_parallel_for(parallel_for, ctx);
    if (s != SOFTMAX_STATUS_OK) throw Error("softmax_set_parallel_for", s);
}


// softmax_topk_softmax_rows_scaled_f32 for one row (k = weights.size()).
inline void topk_softmax(in logits, out weights, view<std::int32_t> indices,
                         std::uint32_t flags = 0, float scale = 1.0f) {
    if (indices.size() != weights.size())
        throw Error("softmax_topk_softmax_rows_scaled_f32: the length of `indices` does not "
                    "fit the shape",
                    SOFTMAX_STATUS_INVALID_ARGUMENT);
    impl::topk_softmax_rows(logits, logits.size(), 1, logits.size(), weights.size(), scale,
                            flags, weights, weights.size(), indices, indices.size())
        .raise();
}
// softmax_topk_softmax_rows_scaled_f32.
inline void topk_softmax_rows(in logits, std::size_t stride, std::size_t rows,
                              std::size_t cols, std::size_t k, out weights,
                              std::size_t weights_stride, view<std::int32_t> indices,
                              std::size_t indices_stride, std::uint32_t flags = 0,
                              float scale = 1.0f) {
    impl::topk_softmax_rows(logits, stride, rows, cols, k, scale, flags, weights,
                            weights_stride, indices, indices_stride)
        .raise();
}
// softmax_sample_f32: the drawn index.
inline std::size_t sample(in logits, float temperature, std::size_t top_k, float top_p,
                          float u) {
    std::size_t index = 0;
    impl::sample(logits, temperature, top_k, top_p, u, index).raise();
    return index;
}
// softmax_sample_rows_f32.
inline void sample_rows(in logits, std::size_t stride, std::size_t rows, std::size_t cols,
                        float temperature, std::size_t top_k, float top_p, in u,
                        view<std::size_t> indices) {
    impl::sample_rows(logits, stride, rows, cols, temperature, top_k, top_p, u, indices)
        .raise();
}

// ---- a handle with a fixed algorithm -------------------------------------------------------

// The operations over std::vector<float>, with a fixed algorithm (SOFTMAX_ALGORITHM_*) and
// flags (SOFTMAX_FLAG_*) for the softmax of rows.
class Softmax {
  public:
    explicit Softmax(std::uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO, std::uint32_t flags = 0)
        : algorithm_(algorithm), flags_(flags) {}

    std::vector<float> softmax(in x) const { return softmax::softmax(x, algorithm_); }
    void softmax_in_place(out x) const { softmax::softmax(x, x, algorithm_); }
    std::vector<float> log_softmax(in x) const { return softmax::log_softmax(x); }
    float logsumexp(in x) const { return softmax::logsumexp(x); }
    // Rows of a row-major rows x cols matrix.
    std::vector<float> softmax_rows(in x, std::size_t rows, std::size_t cols) const {
        std::vector<float> y(x.size());
        softmax::softmax_rows(x, y, rows, cols, algorithm_, flags_);
        return y;
    }
    std::vector<float> log_softmax_rows(in x, std::size_t rows, std::size_t cols) const {
        std::vector<float> y(x.size());
        softmax::log_softmax_rows(x, y, rows, cols);
        return y;
    }
    std::vector<float> softmax_scaled(in x, float scale) const {
        std::vector<float> y(x.size());
        softmax::softmax_scaled_rows(x, x.size(), y, y.size(), 1, x.size(), scale, algorithm_);
        return y;
    }
    static std::vector<float> softmax_backward(in y, in dy) {
        return softmax::softmax_backward(y, dy);
    }
    static std::vector<float> log_softmax_backward(in y, in dy) {
        return softmax::log_softmax_backward(y, dy);
    }
    // The loss of one row; the gradient overwrites the logits.
    static float cross_entropy_in_place(out logits, std::size_t target) {
        return softmax::cross_entropy(logits, target, logits);
    }
    // Losses of each row (target -100: ignored) with label smoothing; the gradient goes to
    // dlogits (resized to the logits' size).
    static std::vector<float> cross_entropy_rows(in logits, std::size_t rows, std::size_t cols,
                                                 view<const std::int64_t> targets,
                                                 float label_smoothing,
                                                 std::vector<float> &dlogits) {
        std::vector<float> losses(rows);
        dlogits.resize(logits.size());
        softmax::cross_entropy_rows(logits, cols, rows, cols, targets, -100, label_smoothing,
                                    losses, dlogits, cols);
        return losses;
    }
    // The name of the ISA in use.
    static std::string isa() { return isa_name(get_isa()); }

  private:
    std::uint32_t algorithm_;
    std::uint32_t flags_;
};

}  // namespace softmax

#endif  // SOFTMAX_HPP
