// A small C++17 wrapper over the softmax C ABI (see ../include/softmax.h), and a self-check.
//
//   cargo build --release && make -C c_examples run
//
// Exits with status 1 if any result differs from a double-precision computation by more than
// 1e-5 relative, or if an error is not reported as an exception.
#include <cmath>
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
        check(log_softmax_f32(x.data(), y.data(), x.size()), "log_softmax_f32");
        return y;
    }

    float logsumexp(const std::vector<float> &x) const {
        float result = 0.0f;
        check(logsumexp_f32(x.data(), x.size(), &result), "logsumexp_f32");
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
        check(log_softmax_rows_f32(x.data(), cols, y.data(), cols, rows, cols),
              "log_softmax_rows_f32");
        return y;
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
