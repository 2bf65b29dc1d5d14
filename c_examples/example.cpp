// The C++17 wrapper ../include/softmax.hpp over the softmax C ABI, checked.
//
//   scripts/install.sh --prefix "$HOME/.local" && make -C c_examples run PREFIX="$HOME/.local"
//
// Exits with status 1 if any result differs from a double-precision computation by more than
// 1e-5 relative (gradients: 1e-5 of the magnitude of their terms), or if an error is not
// reported as an exception. Covers the forward operations and the training operations
// (scaled softmax, masked rows, backward passes, cross-entropy).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "softmax.hpp"


namespace {

int failures = 0;

void expect(bool ok, const std::string &what) {
    if (!ok) {
        ++failures;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

bool close_rel(double got, double want) { return std::fabs(got - want) <= 1e-5 * std::fabs(want) + 1e-30; }

double ref_logsumexp(const float *x, size_t n) {
    double m = -INFINITY, s = 0.0;
    for (size_t i = 0; i < n; ++i) m = std::fmax(m, x[i]);
    for (size_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - m);
    return m + std::log(s);
}

void check_row(const char *what, const float *x, const float *y, size_t n, bool log) {
    const double lse = ref_logsumexp(x, n);
    for (size_t i = 0; i < n; ++i) {
        const double want = log ? double(x[i]) - lse : std::exp(double(x[i]) - lse);
        if (!close_rel(y[i], want)) {
            expect(false, std::string(what) + ": element " + std::to_string(i) + " = " +
                              std::to_string(y[i]) + ", expected " + std::to_string(want));
            return;
        }
    }
}

// |got - want| within 1e-5 of the magnitude `scale` of the terms (gradients may cancel to 0).
bool close_grad(double got, double want, double scale) {
    return std::fabs(got - want) <= 1e-5 * (scale + std::fabs(want)) + 1e-30;
}

void check_grad(const char *what, const std::vector<float> &got, const std::vector<double> &want,
                const std::vector<double> &scale) {
    for (size_t i = 0; i < got.size(); ++i) {
        if (!close_grad(got[i], want[i], scale[i])) {
            expect(false, std::string(what) + ": element " + std::to_string(i) + " = " +
                              std::to_string(got[i]) + ", expected " + std::to_string(want[i]));
            return;
        }
    }
}

// The training operations against double computations.
void training_checks(const std::vector<float> &x) {
    const softmax::Softmax sm;
    const size_t n = x.size();

    // Temperature 2: softmax(x / 2).
    auto ys = sm.softmax_scaled(x, 0.5f);
    std::vector<float> half(n);
    for (size_t i = 0; i < n; ++i) half[i] = 0.5f * x[i];
    check_row("softmax_scaled", half.data(), ys.data(), n, false);

    // Backward passes with an incoming gradient dy.
    std::vector<float> dy(n);
    for (size_t i = 0; i < n; ++i) dy[i] = float(std::cos(0.91 * double(i)));
    auto y = sm.softmax(x);
    auto dx = softmax::Softmax::softmax_backward(y, dy);
    double dot = 0.0, dot_abs = 0.0, sum = 0.0, sum_abs = 0.0;
    for (size_t i = 0; i < n; ++i) {
        dot += double(y[i]) * dy[i];
        dot_abs += std::fabs(double(y[i]) * dy[i]);
        sum += dy[i];
        sum_abs += std::fabs(dy[i]);
    }
    std::vector<double> want(n), scale(n);
    for (size_t i = 0; i < n; ++i) {
        want[i] = y[i] * (dy[i] - dot);
        scale[i] = y[i] * (std::fabs(dy[i]) + dot_abs);
    }
    check_grad("softmax_backward", dx, want, scale);
    auto ly = sm.log_softmax(x);
    auto ldx = softmax::Softmax::log_softmax_backward(ly, dy);
    for (size_t i = 0; i < n; ++i) {
        want[i] = dy[i] - std::exp(double(ly[i])) * sum;
        scale[i] = std::fabs(dy[i]) + std::exp(double(ly[i])) * sum_abs;
    }
    check_grad("log_softmax_backward", ldx, want, scale);

    // Cross-entropy in place: the logits become the gradient softmax(x) - onehot(target).
    const size_t target = 5;
    auto g = x;
    const float loss = softmax::Softmax::cross_entropy_in_place(g, target);
    const double lse = ref_logsumexp(x.data(), n);
    expect(std::fabs(loss - (lse - x[target])) <= 1e-5 * std::fmax(1.0, lse - x[target]),
           "cross_entropy loss");
    for (size_t i = 0; i < n; ++i) {
        want[i] = std::exp(double(x[i]) - lse) - (i == target ? 1.0 : 0.0);
        scale[i] = 1.0;
    }
    check_grad("cross_entropy gradient", g, want, scale);
    std::printf("cross_entropy = %.6f, softmax_backward dx[0] = %.6g\n", loss, dx[0]);

    // A batch: 3 rows of 16, the middle one ignored, label smoothing 0.1.
    const size_t rows = 3, cols = 16;
    const float eps = 0.1f;
    std::vector<float> m(x.begin(), x.begin() + rows * cols), dm;
    const std::vector<int64_t> targets = {3, -100, 15};
    auto losses = softmax::Softmax::cross_entropy_rows(m, rows, cols, targets, eps, dm);
    for (size_t r = 0; r < rows; ++r) {
        const float *xr = m.data() + r * cols;
        if (targets[r] == -100) {
            expect(losses[r] == 0.0f && dm[r * cols] == 0.0f, "ignored row");
            continue;
        }
        const size_t t = size_t(targets[r]);
        const double l = ref_logsumexp(xr, cols);
        double mean = 0.0;
        for (size_t i = 0; i < cols; ++i) mean += xr[i];
        mean /= double(cols);
        const double w = l - (1.0 - eps) * xr[t] - eps * mean;
        expect(std::fabs(losses[r] - w) <= 1e-5 * std::fmax(1.0, std::fabs(w)),
               "cross_entropy_rows loss of row " + std::to_string(r));
        for (size_t i = 0; i < cols; ++i) {
            const double gi = std::exp(double(xr[i]) - l) - eps / double(cols) -
                              (i == t ? 1.0 - eps : 0.0);
            expect(close_grad(dm[r * cols + i], gi, 1.0), "cross_entropy_rows gradient");
        }
    }

    // Masked attention: the second row is fully masked.
    std::vector<float> att(2 * cols);
    for (size_t i = 0; i < cols; ++i) {
        att[i] = x[i];
        att[cols + i] = -INFINITY;
    }
    const softmax::Softmax masked(SOFTMAX_ALGORITHM_AUTO, SOFTMAX_FLAG_ZERO_MASKED_ROWS);
    auto p = masked.softmax_rows(att, 2, cols);
    check_row("softmax_rows_masked", att.data(), p.data(), cols, false);
    for (size_t i = 0; i < cols; ++i) expect(p[cols + i] == 0.0f, "masked row is not zero");

    // A target outside the row is an error.
    try {
        auto bad = x;
        softmax::Softmax::cross_entropy_in_place(bad, n);
        expect(false, "target n did not throw");
    } catch (const softmax::Error &e) {
        std::printf("expected error: %s\n", e.what());
        expect(e.status() == SOFTMAX_STATUS_INVALID_ARGUMENT, "target n: wrong status");
    }
}

// The free functions: strided rows, backward rows, std::error_code results, and lengths that
// do not fit the shape (reported with the argument's name).
void wrapper_checks(const std::vector<float> &x) {
    const size_t rows = 3, cols = 20, stride = 24;
    std::vector<float> y(rows * stride, 7.0f), ly(rows * stride), dx(rows * stride);
    softmax::softmax_rows(x, stride, y, stride, rows, cols, SOFTMAX_ALGORITHM_TWO_PASS);
    softmax::log_softmax_rows(x, stride, ly, stride, rows, cols);
    for (size_t r = 0; r < rows; ++r) {
        check_row("softmax_rows strided", x.data() + r * stride, y.data() + r * stride, cols,
                  false);
        check_row("log_softmax_rows strided", x.data() + r * stride, ly.data() + r * stride, cols,
                  true);
        expect(y[r * stride + cols] == 7.0f, "softmax_rows wrote between rows");
    }
    // Backward rows agree with the one-row functions.
    softmax::softmax_backward_rows(y, stride, x, stride, dx, stride, rows, cols);
    for (size_t r = 0; r < rows; ++r) {
        std::vector<float> yr(y.begin() + r * stride, y.begin() + r * stride + cols);
        std::vector<float> dyr(x.begin() + r * stride, x.begin() + r * stride + cols);
        auto want = softmax::softmax_backward(yr, dyr);
        for (size_t i = 0; i < cols; ++i)
            expect(dx[r * stride + i] == want[i], "softmax_backward_rows row " + std::to_string(r));
    }
    softmax::log_softmax_backward_rows(ly, stride, x, stride, dx, stride, rows, cols);
    std::vector<float> scaled(rows * stride);
    softmax::softmax_scaled_rows(x, stride, scaled, stride, rows, cols, 1.0f);
    for (size_t r = 0; r < rows; ++r)
        for (size_t i = 0; i < cols; ++i)
            expect(scaled[r * stride + i] == y[r * stride + i] ||
                       close_rel(scaled[r * stride + i], y[r * stride + i]),
                   "softmax_scaled_rows with scale 1");

    // std::error_code instead of exceptions.
    std::vector<float> out(4);
    float lse = 0.0f;
    expect(!softmax::nothrow::softmax(std::vector<float>{1, 2, 3, 4}, out), "nothrow softmax");
    expect(!softmax::nothrow::logsumexp(out, lse), "nothrow logsumexp");
    const std::error_code ec = softmax::nothrow::softmax(x, out);
    expect(ec.value() == SOFTMAX_STATUS_INVALID_ARGUMENT && ec.category().name() ==
                                                               std::string("softmax"),
           "nothrow softmax: length mismatch is not INVALID_ARGUMENT");
    expect(softmax::nothrow::set_isa(99).value() == SOFTMAX_STATUS_INVALID_ARGUMENT,
           "nothrow set_isa(99)");
    try {
        softmax::softmax_rows(x, 16, out, 16, 2, 16);
        expect(false, "a short output did not throw");
    } catch (const softmax::Error &e) {
        std::printf("expected error: %s\n", e.what());
        expect(std::string(e.what()).find("`y`") != std::string::npos,
               "the length error does not name y");
    }
    // Every ISA this CPU runs gives the same softmax to within a few ULP.
    const uint32_t initial = softmax::get_isa();
    for (uint32_t isa = SOFTMAX_ISA_SCALAR; isa <= SOFTMAX_ISA_NEON; ++isa) {
        if (!softmax::isa_supported(isa)) continue;
        softmax::set_isa(isa);
        auto p = softmax::softmax(x);
        check_row(softmax::isa_name(isa), x.data(), p.data(), x.size(), false);
    }
    softmax::set_isa(initial);
    expect(std::string(softmax::status_string(SOFTMAX_STATUS_OK)) == "ok", "status_string");
    expect(std::string(softmax::version()).size() >= 5, "version");
}

// A serial thread pool for softmax::set_parallel_for: runs the tasks one after another on the
// calling thread and counts the calls.
void serial_pool(void *ctx, softmax_task_fn task, void *task_ctx, size_t count) {
    ++*static_cast<int *>(ctx);
    for (size_t i = 0; i < count; ++i) task(task_ctx, i);
}

// Log-sum-exp rows and states (a row in chunks, a batch in vocabulary shards), StableMax, and
// the thread settings.
void state_stablemax_thread_checks(const std::vector<float> &x) {
    const size_t n = x.size();

    // Log-sum-exp of each row of a batch: the one-row value for each.
    const size_t rows = 4, cols = 64;
    auto lses = softmax::logsumexp_rows(x, rows, cols);
    for (size_t r = 0; r < rows; ++r) {
        std::vector<float> row(x.begin() + r * cols, x.begin() + (r + 1) * cols);
        expect(lses[r] == softmax::logsumexp(row), "logsumexp_rows row " + std::to_string(r));
    }

    // One row in three chunks, merged in two orders: the log-sum-exp of the whole row.
    const size_t a = 100, b = 200;
    std::vector<float> c0(x.begin(), x.begin() + a), c1(x.begin() + a, x.begin() + b),
        c2(x.begin() + b, x.end());
    softmax_lse_state fwd = softmax::lse_empty();
    softmax::logsumexp_accumulate(c0, fwd);
    softmax::logsumexp_accumulate(c1, fwd);
    softmax::logsumexp_accumulate(c2, fwd);
    const softmax_lse_state bwd =
        softmax::lse_merge(softmax::logsumexp_accumulate(c2),
                           softmax::lse_merge(softmax::logsumexp_accumulate(c1),
                                              softmax::logsumexp_accumulate(c0)));
    const double want_lse = ref_logsumexp(x.data(), n);
    const float lse = softmax::lse_value(fwd);
    expect(close_rel(lse, want_lse), "chunked log-sum-exp");
    expect(close_rel(softmax::lse_value(bwd), want_lse), "chunked log-sum-exp, other order");
    expect(softmax::lse_value(softmax::lse_empty()) == -INFINITY, "lse_empty is -inf");
    expect(softmax::lse_value(softmax::lse_from_value(2.5f)) == 2.5f, "lse_from_value");
    // Each chunk normalised by the row's log-sum-exp: the chunks of the row's softmax.
    auto p1 = softmax::normalize(c1, lse);
    auto l1 = softmax::log_softmax_normalize(c1, lse);
    for (size_t i = 0; i < p1.size(); ++i) {
        expect(close_grad(p1[i], std::exp(double(x[a + i]) - want_lse), 1e-6), "normalize");
        expect(l1[i] == c1[i] - lse, "log_softmax_normalize is x - lse");
    }
    std::printf("log-sum-exp in chunks = %.6f, normalize[0] = %.6g\n", lse, p1[0]);

    // A batch of 3 rows of 48 in two vocabulary shards [0, 20) and [20, 48): the per-row
    // states merged (an all-reduce) give the cross-entropy of the whole rows.
    const size_t brows = 3, bcols = 48, w0 = 20, w1 = bcols - w0;
    std::vector<float> m(x.begin(), x.begin() + brows * bcols);
    const std::vector<int64_t> targets = {3, 30, -100};
    std::vector<softmax_lse_state> s0(brows, softmax::lse_empty()), s1 = s0;
    softmax::logsumexp_accumulate_rows(m, bcols, brows, w0, s0);
    softmax::logsumexp_accumulate_rows(softmax::in(m.data() + w0, m.size() - w0), bcols, brows,
                                       w1, s1);
    softmax::lse_merge_rows(s0, s1);  // s1: the states of the whole rows
    // The same states from one contiguous call per row.
    auto whole_states = softmax::logsumexp_accumulate_rows(m, brows, bcols);
    std::vector<float> row_lse(brows);
    for (size_t r = 0; r < brows; ++r) {
        row_lse[r] = softmax::lse_value(s1[r]);
        expect(close_rel(row_lse[r], softmax::lse_value(whole_states[r])),
               "sharded states of row " + std::to_string(r));
    }
    std::vector<float> sm(m.size());
    softmax::normalize_rows(m, sm, brows, bcols, row_lse);
    for (size_t r = 0; r < brows; ++r)
        check_row("normalize_rows", m.data() + r * bcols, sm.data() + r * bcols, bcols, false);
    softmax::log_softmax_normalize_rows(m, sm, brows, bcols, row_lse);
    for (size_t r = 0; r < brows; ++r)
        check_row("log_softmax_normalize_rows", m.data() + r * bcols, sm.data() + r * bcols,
                  bcols, true);
    const float eps = 0.1f;
    std::vector<float> la(brows), lb(brows), whole(brows), dshard(m.size()), dwhole(m.size());
    softmax::cross_entropy_shard_rows(m, bcols, brows, w0, 0, bcols, targets, -100, eps, s1, la,
                                      dshard, bcols);
    softmax::cross_entropy_shard_rows(softmax::in(m.data() + w0, m.size() - w0),
                                      bcols, brows, w1, w0, bcols, targets, -100, eps, s1, lb,
                                      softmax::out(dshard.data() + w0, m.size() - w0),
                                      bcols);
    softmax::cross_entropy_rows(m, bcols, brows, bcols, targets, -100, eps, whole, dwhole, bcols);
    for (size_t r = 0; r < brows; ++r)
        expect(std::fabs(double(la[r]) + lb[r] - whole[r]) <= 1e-5 * std::fmax(1.0, whole[r]),
               "sharded cross-entropy of row " + std::to_string(r));
    for (size_t i = 0; i < m.size(); ++i)
        expect(close_grad(dshard[i], dwhole[i], 1.0), "sharded cross-entropy gradient");

    // StableMax: s(x) = x + 1 for x >= 0, 1 / (1 - x) below, normalised.
    auto s = [](double v) { return v >= 0 ? v + 1.0 : 1.0 / (1.0 - v); };
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) total += s(x[i]);
    auto sy = softmax::stablemax(x);
    auto sly = softmax::log_stablemax(x);
    for (size_t i = 0; i < n; ++i) {
        expect(close_rel(sy[i], s(x[i]) / total), "stablemax element " + std::to_string(i));
        expect(close_grad(sly[i], std::log(s(x[i]) / total), 1.0),
               "log_stablemax element " + std::to_string(i));
    }
    std::vector<float> sr(rows * cols), slr(rows * cols);
    softmax::stablemax_rows(x, cols, sr, cols, rows, cols);
    softmax::log_stablemax_rows(std::vector<float>(x.begin(), x.begin() + rows * cols), slr, rows,
                                cols);
    for (size_t r = 0; r < rows; ++r) {
        auto one = softmax::stablemax(softmax::in(x.data() + r * cols, cols));
        auto lone = softmax::log_stablemax(softmax::in(x.data() + r * cols, cols));
        for (size_t i = 0; i < cols; ++i) {
            expect(sr[r * cols + i] == one[i], "stablemax_rows row " + std::to_string(r));
            expect(slr[r * cols + i] == lone[i], "log_stablemax_rows row " + std::to_string(r));
        }
    }
    // StableMax backward from the forward input x, one row and a batch.
    std::vector<float> dy(n);
    for (size_t i = 0; i < n; ++i) dy[i] = float(std::cos(0.91 * double(i)));
    auto sdx = softmax::stablemax_backward(x, dy);
    double dot = 0.0;
    for (size_t i = 0; i < n; ++i) dot += double(dy[i]) * (s(x[i]) / total);
    for (size_t i = 0; i < n; ++i) {
        const double ds = x[i] >= 0 ? 1.0 : 1.0 / ((1.0 - x[i]) * (1.0 - x[i]));
        expect(close_grad(sdx[i], ds / total * (dy[i] - dot), 1e-3 * ds / total),
               "stablemax_backward element " + std::to_string(i));
    }
    auto lsdx = softmax::log_stablemax_backward(x, dy);
    std::vector<float> bdx(rows * cols), lbdx(rows * cols);
    softmax::stablemax_backward_rows(x, cols, dy, cols, bdx, cols, rows, cols);
    softmax::log_stablemax_backward_rows(x, cols, dy, cols, lbdx, cols, rows, cols);
    for (size_t r = 0; r < rows; ++r) {
        softmax::in xr(x.data() + r * cols, cols), dyr(dy.data() + r * cols, cols);
        auto want = softmax::stablemax_backward(xr, dyr);
        auto lwant = softmax::log_stablemax_backward(xr, dyr);
        for (size_t i = 0; i < cols; ++i) {
            expect(bdx[r * cols + i] == want[i], "stablemax_backward_rows");
            expect(lbdx[r * cols + i] == lwant[i], "log_stablemax_backward_rows");
        }
    }
    // StableMax cross-entropy: ln S - ln s(x[target]); one row, in place, and a batch.
    const size_t target = 5;
    const float sloss = softmax::stablemax_cross_entropy(x, target);
    const double swant = std::log(total) - std::log(s(x[target]));
    expect(std::fabs(sloss - swant) <= 1e-5 * std::fmax(1.0, swant), "stablemax_cross_entropy");
    auto g = x;
    expect(softmax::stablemax_cross_entropy(g, target, g) == sloss,
           "stablemax_cross_entropy in place");
    std::vector<float> slosses(brows), sgrad(m.size());
    softmax::stablemax_cross_entropy_rows(m, bcols, brows, bcols, targets, -100, 0.0f, slosses,
                                          sgrad, bcols);
    for (size_t r = 0; r < brows; ++r) {
        softmax::in row(m.data() + r * bcols, bcols);
        const float want = targets[r] < 0 ? 0.0f
                                          : softmax::stablemax_cross_entropy(
                                                row, size_t(targets[r]));
        expect(std::fabs(slosses[r] - want) <= 1e-6f * std::fmax(1.0f, want),
               "stablemax_cross_entropy_rows row " + std::to_string(r));
    }
    std::printf("stablemax[0] = %.6g, stablemax_cross_entropy = %.6f, log-stablemax dx[0] = %.6g\n",
                sy[0], sloss, lsdx[0]);

    // std::error_code versions, and lengths that do not fit the shape.
    std::vector<float> out3(3), lse_out(rows);
    expect(!softmax::nothrow::stablemax(std::vector<float>{1, 2, 3}, out3), "nothrow stablemax");
    expect(!softmax::nothrow::logsumexp_rows(x, cols, lse_out, rows, cols),
           "nothrow logsumexp_rows");
    softmax_lse_state st = softmax::lse_empty();
    expect(!softmax::nothrow::logsumexp_accumulate(x, st) && softmax::lse_value(st) == lse,
           "nothrow logsumexp_accumulate");
    expect(softmax::nothrow::normalize(x, out3, lse).value() == SOFTMAX_STATUS_INVALID_ARGUMENT,
           "nothrow normalize: length mismatch");
    float loss3 = 0.0f;
    expect(softmax::nothrow::stablemax_cross_entropy(out3, 3, loss3).value() ==
               SOFTMAX_STATUS_INVALID_ARGUMENT,
           "nothrow stablemax_cross_entropy: target out of range");
    try {
        softmax::logsumexp_rows(x, cols, out3, rows, cols);
        expect(false, "a short logsumexp_rows output did not throw");
    } catch (const softmax::Error &e) {
        std::printf("expected error: %s\n", e.what());
        expect(std::string(e.what()).find("`out`") != std::string::npos,
               "the length error does not name out");
    }
    try {
        softmax::cross_entropy_shard_rows(m, bcols, brows, w1, w0 + 1, bcols, targets, -100, 0.0f,
                                          s1, la);
        expect(false, "a shard beyond total_cols did not throw");
    } catch (const softmax::Error &e) {
        std::printf("expected error: %s\n", e.what());
        expect(e.status() == SOFTMAX_STATUS_INVALID_ARGUMENT, "shard beyond total_cols");
    }

    // Threads: more threads, or the caller's pool, give the same bits.
    const size_t initial_threads = softmax::get_num_threads();
    std::vector<float> big(131072 * 2);
    for (size_t i = 0; i < big.size(); ++i) big[i] = float(std::sin(0.013 * double(i)) * 8.0);
    auto one_thread = softmax::softmax(big);
    softmax::set_num_threads(2);
    expect(softmax::get_num_threads() == 2, "get_num_threads after set_num_threads(2)");
    expect(softmax::softmax(big) == one_thread, "two threads give the same bits");
    int pool_calls = 0;
    softmax::set_parallel_for(serial_pool, &pool_calls);
    expect(softmax::softmax(big) == one_thread, "the caller's pool gives the same bits");
    expect(pool_calls > 0, "the caller's pool was not used");
    expect(!softmax::nothrow::set_parallel_for(nullptr), "nothrow set_parallel_for(nullptr)");
    expect(!softmax::nothrow::set_num_threads(initial_threads), "nothrow set_num_threads");
    expect(softmax::get_num_threads() == initial_threads, "thread count restored");
    std::printf("threads: %zu, the caller's pool called %d time(s)\n", initial_threads,
                pool_calls);
}

}  // namespace

int main() {
    std::printf("softmax %s on %s\n", softmax_version(), softmax::Softmax::isa().c_str());

    std::vector<float> x(257);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)) * 6.0);

    for (uint32_t alg = SOFTMAX_ALGORITHM_AUTO; alg <= SOFTMAX_ALGORITHM_TWO_PASS_BLOCKED; ++alg) {
        const softmax::Softmax sm(alg);
        auto y = sm.softmax(x);
        check_row("softmax", x.data(), y.data(), x.size(), false);
        auto z = x;
        sm.softmax_in_place(z);
        check_row("softmax_in_place", x.data(), z.data(), x.size(), false);
    }

    const softmax::Softmax sm;
    auto ls = sm.log_softmax(x);
    check_row("log_softmax", x.data(), ls.data(), x.size(), true);
    const float lse = sm.logsumexp(x);
    expect(close_rel(lse, ref_logsumexp(x.data(), x.size())), "logsumexp");
    std::printf("logsumexp = %.6f, log_softmax[0] = %.6f\n", lse, ls[0]);

    const size_t rows = 4, cols = 64;
    std::vector<float> m(x.begin(), x.begin() + rows * cols);
    auto sr = sm.softmax_rows(m, rows, cols);
    auto lr = sm.log_softmax_rows(m, rows, cols);
    for (size_t r = 0; r < rows; ++r) {
        check_row("softmax_rows", m.data() + r * cols, sr.data() + r * cols, cols, false);
        check_row("log_softmax_rows", m.data() + r * cols, lr.data() + r * cols, cols, true);
    }
    std::printf("softmax_rows: row 0 starts %.6f %.6f\n", sr[0], sr[1]);

    training_checks(x);
    wrapper_checks(x);
    state_stablemax_thread_checks(x);

    // Errors become exceptions carrying softmax_status_string.
    try {
        softmax::Softmax(99).softmax(x);
        expect(false, "algorithm 99 did not throw");
    } catch (const softmax::Error &e) {
        std::printf("expected error: %s\n", e.what());
        expect(e.status() == SOFTMAX_STATUS_INVALID_ARGUMENT, "algorithm 99: wrong status");
        expect(std::string(e.what()).find("invalid argument") != std::string::npos,
               "algorithm 99: message lacks the status string");
    }

    if (failures) {
        std::printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    std::printf("C++ example: ALL OK\n");
    return 0;
}
