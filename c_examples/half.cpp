// The 16-bit rows of the softmax C ABI from C++, with the compiler's own 16-bit types where it
// has them: `_Float16` for IEEE binary16 (GCC >= 12 and Clang on x86_64 and aarch64) and
// C++23 `std::bfloat16_t` (<stdfloat>, GCC >= 13 with -std=c++23) for bfloat16. Both have the
// layout of `softmax_f16_t` / `softmax_bf16_t` (uint16_t bit patterns), so their arrays are
// passed with a pointer cast. Without them the program falls back to bit conversions.
//
//   scripts/install.sh --prefix "$HOME/.local" && make -C c_examples run PREFIX="$HOME/.local"
//
// Checks the results against double precision (within the format's rounding) and against the
// f32 functions on the widened rows (bit for bit after rounding), and exits with status 1 if
// anything is wrong.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#if defined(__STDCPP_BFLOAT16_T__) && __cplusplus > 202002L && __has_include(<stdfloat>)
#include <stdfloat>
#define HAVE_STD_BFLOAT16 1
#endif

#include "softmax.h"

namespace {

int failures = 0;

void expect(bool ok, const std::string &what) {
    if (!ok) {
        ++failures;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

[[maybe_unused]] std::uint32_t bits_of(float f) {
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

[[maybe_unused]] float float_of(std::uint32_t b) {
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

// ---- The element types: the compiler's, or 16-bit patterns with conversions. --------------

#ifdef __FLT16_MAX__
using f16 = _Float16;
const char *const f16_kind = "_Float16";
float widen(f16 h) { return static_cast<float>(h); }
f16 to_f16(float v) { return static_cast<f16>(v); }  // nearest, ties to even
#else
// binary16 by hand (round to nearest even; NaN stays NaN).
struct f16 {
    std::uint16_t bits;
};
const char *const f16_kind = "bit conversions";
float widen(f16 h) {
    const std::uint32_t sign = std::uint32_t(h.bits & 0x8000u) << 16;
    const std::uint32_t exp = (h.bits >> 10) & 0x1fu, man = h.bits & 0x3ffu;
    if (exp == 0) return float_of(sign | bits_of(float(man) * 0x1p-24f));
    if (exp == 0x1f) return float_of(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    return float_of(sign | ((exp + 112u) << 23) | (man << 13));
}
f16 to_f16(float v) {
    const std::uint32_t b = bits_of(v), a = b & 0x7fffffffu;
    const std::uint16_t sign = std::uint16_t((b >> 16) & 0x8000u);
    if (a > 0x7f800000u) return {std::uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};
    if (a >= 0x477ff000u) return {std::uint16_t(sign | 0x7c00u)};
    if (a < 0x38800000u) return {std::uint16_t(sign | (bits_of(float_of(a) + 0.5f) - 0x3f000000u))};
    return {std::uint16_t(sign | ((a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13))};
}
#endif

#ifdef HAVE_STD_BFLOAT16
using bf16 = std::bfloat16_t;
const char *const bf16_kind = "std::bfloat16_t";
float widen(bf16 h) { return static_cast<float>(h); }
bf16 to_bf16(float v) { return static_cast<bf16>(v); }  // nearest, ties to even
#else
// bfloat16 is the upper half of a float.
struct bf16 {
    std::uint16_t bits;
};
const char *const bf16_kind = "bit conversions";
float widen(bf16 h) { return float_of(std::uint32_t(h.bits) << 16); }
bf16 to_bf16(float v) {
    const std::uint32_t b = bits_of(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) return {std::uint16_t((b >> 16) | 0x0040u)};
    return {std::uint16_t((b + 0x7fffu + ((b >> 16) & 1u)) >> 16)};
}
#endif

static_assert(sizeof(f16) == sizeof(softmax_f16_t), "f16 is 16 bits");
static_assert(sizeof(bf16) == sizeof(softmax_bf16_t), "bf16 is 16 bits");

// The arrays of the C ABI: the same bytes.
const softmax_f16_t *in(const std::vector<f16> &v) {
    return reinterpret_cast<const softmax_f16_t *>(v.data());
}
softmax_f16_t *out(std::vector<f16> &v) { return reinterpret_cast<softmax_f16_t *>(v.data()); }
const softmax_bf16_t *in(const std::vector<bf16> &v) {
    return reinterpret_cast<const softmax_bf16_t *>(v.data());
}
softmax_bf16_t *out(std::vector<bf16> &v) { return reinterpret_cast<softmax_bf16_t *>(v.data()); }

template <class T>
std::uint16_t bits16(T v) {
    std::uint16_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

template <class T>
std::vector<float> widened(const std::vector<T> &v) {
    std::vector<float> w(v.size());
    for (size_t i = 0; i < v.size(); ++i) w[i] = widen(v[i]);
    return w;
}

std::vector<double> reference_softmax(const std::vector<float> &x, size_t off, size_t n) {
    double m = -INFINITY, s = 0.0;
    for (size_t i = 0; i < n; ++i) m = std::fmax(m, x[off + i]);
    for (size_t i = 0; i < n; ++i) s += std::exp(double(x[off + i]) - m);
    std::vector<double> p(n);
    for (size_t i = 0; i < n; ++i) p[i] = std::exp(double(x[off + i]) - m) / s;
    return p;
}

// `got` (16-bit) is the f32 result `want` rounded by `round`, element by element.
template <class T, class Round>
void same_as_f32(const char *what, const std::vector<T> &got, const std::vector<float> &want,
                 Round round) {
    for (size_t i = 0; i < got.size(); ++i) {
        if (bits16(got[i]) != bits16(round(want[i]))) {
            expect(false, std::string(what) + ": element " + std::to_string(i) + " = " +
                              std::to_string(widen(got[i])) + ", the f32 result rounds to " +
                              std::to_string(widen(round(want[i]))));
            return;
        }
    }
}

void f16_checks() {
    const size_t rows = 4, cols = 33;
    std::vector<f16> x(rows * cols), y(rows * cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = to_f16(float(std::sin(0.61 * double(i)) * 7.0));
    const std::vector<float> xf = widened(x);
    std::vector<float> yf(xf.size());

    expect(softmax_rows_f16(in(x), cols, out(y), cols, rows, cols, SOFTMAX_ALGORITHM_AUTO) ==
               SOFTMAX_STATUS_OK,
           "softmax_rows_f16");
    softmax_rows_f32(xf.data(), cols, yf.data(), cols, rows, cols, SOFTMAX_ALGORITHM_AUTO);
    same_as_f32("softmax_rows_f16", y, yf, to_f16);
    for (size_t r = 0; r < rows; ++r) {
        const auto p = reference_softmax(xf, r * cols, cols);
        for (size_t i = 0; i < cols; ++i) {
            const double got = widen(y[r * cols + i]);
            expect(std::fabs(got - p[i]) <= 0x1p-11 * p[i] + 0x1p-25,
                   "softmax_rows_f16 row " + std::to_string(r) + " element " + std::to_string(i));
        }
    }
    // Log-sum-exp: a float, the f32 value of the widened row.
    float lse = 0.0f, lse32 = 0.0f;
    softmax_logsumexp_f16(in(x), cols, &lse);
    softmax_logsumexp_f32(xf.data(), cols, &lse32);
    expect(lse == lse32, "softmax_logsumexp_f16");
    // Log-softmax backward, in place over dy.
    std::vector<f16> ly(cols), d(cols);
    softmax_log_softmax_f16(in(x), out(ly), cols);
    for (size_t i = 0; i < cols; ++i) d[i] = to_f16(float(std::cos(0.3 * double(i))));
    std::vector<float> lyf = widened(ly), df = widened(d), dxf(cols);
    softmax_log_softmax_backward_f32(lyf.data(), df.data(), dxf.data(), cols);
    expect(softmax_log_softmax_backward_f16(in(ly), in(d), out(d), cols) == SOFTMAX_STATUS_OK,
           "softmax_log_softmax_backward_f16 in place");
    same_as_f32("softmax_log_softmax_backward_f16", d, dxf, to_f16);
    std::printf("f16 (%s): softmax_rows y[0] = %g, logsumexp = %f\n", f16_kind, double(widen(y[0])),
                double(lse));
}

void bf16_checks() {
    const size_t rows = 3, cols = 50;
    std::vector<bf16> x(rows * cols), g(rows * cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = to_bf16(float(std::sin(0.23 * double(i)) * 30.0));
    const std::vector<float> xf = widened(x);
    // Scaled softmax (temperature 2).
    std::vector<bf16> y(x.size());
    std::vector<float> yf(x.size());
    expect(softmax_scaled_rows_bf16(in(x), cols, out(y), cols, rows, cols, 0.5f,
                                    SOFTMAX_ALGORITHM_AUTO) == SOFTMAX_STATUS_OK,
           "softmax_scaled_rows_bf16");
    softmax_scaled_rows_f32(xf.data(), cols, yf.data(), cols, rows, cols, 0.5f,
                            SOFTMAX_ALGORITHM_AUTO);
    same_as_f32("softmax_scaled_rows_bf16", y, yf, to_bf16);
    std::vector<float> half_x(xf.size());
    for (size_t i = 0; i < xf.size(); ++i) half_x[i] = 0.5f * xf[i];
    for (size_t r = 0; r < rows; ++r) {
        const auto p = reference_softmax(half_x, r * cols, cols);
        for (size_t i = 0; i < cols; ++i)
            expect(std::fabs(widen(y[r * cols + i]) - p[i]) <= 0x1p-8 * p[i] + 1e-38,
                   "softmax_scaled_rows_bf16 element " + std::to_string(i));
    }
    // Cross-entropy of the batch with label smoothing, the gradient over the logits; the
    // losses are floats, bit for bit those of the f32 function on the widened logits.
    const std::vector<std::int64_t> targets = {4, -100, 49};
    std::vector<float> losses(rows), losses32(rows), gf = xf;
    g = x;
    expect(softmax_cross_entropy_rows_bf16(in(g), cols, rows, cols, targets.data(), -100, 0.1f,
                                           losses.data(), out(g), cols) == SOFTMAX_STATUS_OK,
           "softmax_cross_entropy_rows_bf16");
    softmax_cross_entropy_rows_f32(gf.data(), cols, rows, cols, targets.data(), -100, 0.1f,
                                   losses32.data(), gf.data(), cols);
    expect(losses == losses32, "softmax_cross_entropy_rows_bf16 losses");
    same_as_f32("softmax_cross_entropy_rows_bf16 gradient", g, gf, to_bf16);
    expect(losses[1] == 0.0f && widen(g[cols]) == 0.0f, "ignored row");
    std::printf("bf16 (%s): scaled softmax y[0] = %g, cross-entropy losses %f %f %f\n", bf16_kind,
                double(widen(y[0])), double(losses[0]), double(losses[1]), double(losses[2]));
    // Errors: a target out of range writes nothing.
    const std::vector<std::int64_t> bad = {4, 50, 0};
    std::vector<float> untouched(rows, 7.0f);
    expect(softmax_cross_entropy_rows_bf16(in(x), cols, rows, cols, bad.data(), -100, 0.0f,
                                           untouched.data(), nullptr, 0) ==
                   SOFTMAX_STATUS_INVALID_ARGUMENT &&
               untouched == std::vector<float>(rows, 7.0f),
           "a target out of range");
}

}  // namespace

int main() {
    std::printf("softmax %s on %s\n", softmax_version(), softmax_isa_name(softmax_get_isa()));
    f16_checks();
    bf16_checks();
    if (failures) {
        std::printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    std::printf("16-bit C++ example: ALL OK\n");
    return 0;
}
