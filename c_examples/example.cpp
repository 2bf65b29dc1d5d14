// A small C++17 wrapper over the softmax C ABI (see ../include/softmax.h), and a self-check.
//
//   cargo build --release && make -C c_examples run
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

#include "softmax.h"

namespace softmax {

// A non-OK status, with the library's description in the message.
class Error : public std::runtime_error {
  public:
    Error(const std::string &what, softmax_status status)
        : std::runtime_error(what + ": " + softmax_status_string(status)), status_(status) {}
    softmax_status status() const noexcept { return status_; }

  private:
    softmax_status status_;
};

// Softmax over std::vector<float>, with a fixed algorithm (SOFTMAX_ALGORITHM_*).
class Softmax {
  public:
    explicit Softmax(uint32_t algorithm = SOFTMAX_ALGORITHM_AUTO) : algorithm_(algorithm) {}

    std::vector<float> softmax(const std::vector<float> &x) const {
        std::vector<float> y(x.size());
        check(softmax_f32_ex(x.data(), y.data(), x.size(), algorithm_), "softmax_f32_ex");
        return y;
    }

    void softmax_in_place(std::vector<float> &x) const {
        check(softmax_f32_ex(x.data(), x.data(), x.size(), algorithm_), "softmax_f32_ex");
    }

    std::vector<float> log_softmax(const std::vector<float> &x) const {
        std::vector<float> y(x.size());
        check(softmax_log_softmax_f32(x.data(), y.data(), x.size()), "softmax_log_softmax_f32");
        return y;
    }

    float logsumexp(const std::vector<float> &x) const {
        float result = 0.0f;
        check(softmax_logsumexp_f32(x.data(), x.size(), &result), "softmax_logsumexp_f32");
        return result;
    }

    // Softmax of each row of a row-major rows x cols matrix.
    std::vector<float> softmax_rows(const std::vector<float> &x, size_t rows, size_t cols) const {
        check_shape(x, rows, cols);
        std::vector<float> y(x.size());
        check(softmax_rows_f32(x.data(), cols, y.data(), cols, rows, cols, algorithm_),
              "softmax_rows_f32");
        return y;
    }

    // Log-softmax of each row of a row-major rows x cols matrix.
    std::vector<float> log_softmax_rows(const std::vector<float> &x, size_t rows,
                                        size_t cols) const {
        check_shape(x, rows, cols);
        std::vector<float> y(x.size());
        check(softmax_log_softmax_rows_f32(x.data(), cols, y.data(), cols, rows, cols),
              "softmax_log_softmax_rows_f32");
        return y;
    }

    // Softmax of scale * x (temperature / attention scaling fused into the kernels).
    std::vector<float> softmax_scaled(const std::vector<float> &x, float scale) const {
        std::vector<float> y(x.size());
        check(softmax_scaled_f32(x.data(), y.data(), x.size(), scale), "softmax_scaled_f32");
        return y;
    }

    // Softmax of each row of a row-major rows x cols matrix, where rows of only -inf (fully
    // masked attention rows) give zeros.
    std::vector<float> softmax_rows_masked(const std::vector<float> &x, size_t rows,
                                           size_t cols) const {
        check_shape(x, rows, cols);
        std::vector<float> y(x.size());
        check(softmax_rows_f32_ex(x.data(), cols, y.data(), cols, rows, cols, algorithm_,
                                  SOFTMAX_FLAG_ZERO_MASKED_ROWS),
              "softmax_rows_f32_ex");
        return y;
    }

    // Gradient with respect to the softmax input, from the output y and its gradient dy.
    static std::vector<float> softmax_backward(const std::vector<float> &y,
                                               const std::vector<float> &dy) {
        check_same(y, dy);
        std::vector<float> dx(y.size());
        check(softmax_backward_f32(y.data(), dy.data(), dx.data(), y.size()),
              "softmax_backward_f32");
        return dx;
    }

    // Gradient with respect to the log-softmax input, from the output y and its gradient dy.
    static std::vector<float> log_softmax_backward(const std::vector<float> &y,
                                                   const std::vector<float> &dy) {
        check_same(y, dy);
        std::vector<float> dx(y.size());
        check(softmax_log_softmax_backward_f32(y.data(), dy.data(), dx.data(), y.size()),
              "softmax_log_softmax_backward_f32");
        return dx;
    }

    // Cross-entropy loss of one row; writes the gradient over the logits (in place).
    static float cross_entropy_in_place(std::vector<float> &logits, size_t target) {
        float loss = 0.0f;
        check(softmax_cross_entropy_f32(logits.data(), logits.size(), target, &loss, logits.data()),
              "softmax_cross_entropy_f32");
        return loss;
    }

    // Losses of each row of a row-major rows x cols matrix of logits (target -100: ignored),
    // with label smoothing; the gradient goes to dlogits (same shape).
    static std::vector<float> cross_entropy_rows(const std::vector<float> &logits, size_t rows,
                                                 size_t cols, const std::vector<int64_t> &targets,
                                                 float label_smoothing,
                                                 std::vector<float> &dlogits) {
        check_shape(logits, rows, cols);
        if (targets.size() != rows) throw std::invalid_argument("one target per row");
        std::vector<float> losses(rows);
        dlogits.resize(logits.size());
        check(softmax_cross_entropy_rows_f32(logits.data(), cols, rows, cols, targets.data(), -100,
                                     label_smoothing, losses.data(), dlogits.data(), cols),
              "softmax_cross_entropy_rows_f32");
        return losses;
    }

    // The ISA the library uses now.
    static std::string isa() { return softmax_isa_name(softmax_get_isa()); }

  private:
    static void check(softmax_status status, const char *what) {
        if (status != SOFTMAX_STATUS_OK) throw Error(what, status);
    }
    static void check_shape(const std::vector<float> &x, size_t rows, size_t cols) {
        if (x.size() != rows * cols) throw std::invalid_argument("matrix size != rows * cols");
    }
    static void check_same(const std::vector<float> &a, const std::vector<float> &b) {
        if (a.size() != b.size()) throw std::invalid_argument("sizes differ");
    }

    uint32_t algorithm_;
};

}  // namespace softmax

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
    auto p = sm.softmax_rows_masked(att, 2, cols);
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
