// Top-k gating and sampling of this crate against the plain softmax of the same shape and
// against straightforward sort-based C++ (what frameworks without a fused kernel do): one
// process, the same buffers, interleaved rounds, medians. Built and run by
// scripts/compare-topk.sh.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

#include "softmax.h"

using clk = std::chrono::steady_clock;

static double now_ns() {
    return std::chrono::duration<double, std::nano>(clk::now().time_since_epoch()).count();
}

// Nanoseconds per call of f: the median over `rounds` of the best of a few repeats.
template <class F>
static double time_ns(F &&f, int reps) {
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        f();
        best = std::min(best, now_ns() - t0);
    }
    return best;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Gating as a framework does it without a fused kernel: softmax of the row (std::exp), then
// std::partial_sort of the indices by probability.
static void gate_sorted(const float *x, size_t rows, size_t cols, size_t k, float *w,
                        int32_t *idx, std::vector<float> &p, std::vector<int32_t> &order) {
    for (size_t r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        float m = *std::max_element(row, row + cols);
        float s = 0;
        for (size_t i = 0; i < cols; i++) s += p[i] = std::exp(row[i] - m);
        for (size_t i = 0; i < cols; i++) p[i] /= s;
        std::iota(order.begin(), order.begin() + cols, 0);
        std::partial_sort(order.begin(), order.begin() + k, order.begin() + cols,
                          [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
        for (size_t j = 0; j < k; j++) {
            idx[r * k + j] = order[j];
            w[r * k + j] = p[order[j]];
        }
    }
}

// Sampling as llama.cpp-style samplers do: softmax of logits / T, sort the candidates by
// probability (std::partial_sort for top-k, std::sort otherwise), cut at top-p, draw.
static size_t sample_sorted(const float *x, size_t n, float t, size_t top_k, float top_p,
                            float u, std::vector<std::pair<float, int32_t>> &c) {
    c.resize(n);
    float m = *std::max_element(x, x + n);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        float e = std::exp((x[i] - m) / t);
        c[i] = {e, (int32_t)i};
        s += e;
    }
    auto desc = [](const std::pair<float, int32_t> &a, const std::pair<float, int32_t> &b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    size_t k = top_k ? std::min(top_k, n) : n;
    if (k < n) {
        std::partial_sort(c.begin(), c.begin() + k, c.end(), desc);
        s = 0;
        for (size_t i = 0; i < k; i++) s += c[i].first;
    } else {
        std::sort(c.begin(), c.end(), desc);
    }
    double acc = 0;
    size_t len = k;
    for (size_t i = 0; i < k; i++) {
        acc += c[i].first;
        if (acc >= top_p * s) {
            len = i + 1;
            break;
        }
    }
    double nucleus = 0;
    for (size_t i = 0; i < len; i++) nucleus += c[i].first;
    acc = 0;
    for (size_t i = 0; i < len; i++) {
        acc += c[i].first;
        if (acc > u * nucleus) return c[i].second;
    }
    return c[len - 1].second;
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 7;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> uni(-10.0f, 10.0f);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::printf("ISA %s, %d interleaved rounds, medians\n\n", softmax_isa_name(softmax_get_isa()),
                rounds);

    // ---- gating ----
    struct Shape { size_t rows, cols, k; };
    const Shape shapes[] = {{4096, 64, 2}, {4096, 64, 8}, {4096, 256, 8}};
    std::printf("| gating shape | k | fused top-k (ns/row) | softmax_rows (ns/row) | fused / softmax speed | "
                "renormalised (ns/row) | renormalised / softmax speed | "
                "softmax + partial_sort (ns/row) | fused speed-up |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const Shape &sh : shapes) {
        std::vector<float> x(sh.rows * sh.cols), y(x.size()), w(sh.rows * sh.k), w2(w.size()),
            w3(w.size());
        std::vector<int32_t> idx(w.size()), idx2(w.size()), idx3(w.size());
        for (auto &v : x) v = uni(rng);
        std::vector<float> p(sh.cols);
        std::vector<int32_t> order(sh.cols);
        std::vector<double> tf, tn, ts, tr;
        for (int r = 0; r < rounds; r++) {
            tf.push_back(time_ns([&] {
                softmax_topk_softmax_rows_f32(x.data(), sh.cols, sh.rows, sh.cols, sh.k, 0,
                                              w.data(), sh.k, idx.data(), sh.k);
            }, 5));
            // Weights renormalised over the k (the softmax of the top-k logits).
            tn.push_back(time_ns([&] {
                softmax_topk_softmax_rows_f32(x.data(), sh.cols, sh.rows, sh.cols, sh.k,
                                              SOFTMAX_TOPK_RENORMALIZE, w3.data(), sh.k,
                                              idx3.data(), sh.k);
            }, 5));
            ts.push_back(time_ns([&] {
                softmax_rows_f32(x.data(), sh.cols, y.data(), sh.cols, sh.rows, sh.cols,
                                 SOFTMAX_ALGORITHM_AUTO);
            }, 5));
            tr.push_back(time_ns([&] {
                gate_sorted(x.data(), sh.rows, sh.cols, sh.k, w2.data(), idx2.data(), p, order);
            }, 2));
        }
        if (idx != idx2 || idx3 != idx2)
            std::printf("(indices differ from the sort-based reference)\n");
        double f = median(tf) / sh.rows, n = median(tn) / sh.rows, s = median(ts) / sh.rows,
               rf = median(tr) / sh.rows;
        std::printf("| %zu x %zu | %zu | %.1f | %.1f | %.2fx | %.1f | %.2fx | %.1f | %.1fx |\n",
                    sh.rows, sh.cols, sh.k, f, s, s / f, n, s / n, rf, rf / f);
    }

    // ---- sampling ----
    std::printf("\n| sampling, n | temperature / top_k / top_p | fused (us) | softmax_f32 (us) | "
                "fused / softmax time | sort-based C++ (us) | fused speed-up |\n"
                "|---|---|---|---|---|---|---|\n");
    struct Case { size_t n; float t; size_t top_k; float top_p; };
    const Case cases[] = {{131072, 1.0f, 0, 0.9f}, {131072, 0.8f, 40, 0.9f},
                          {131072, 1.0f, 0, 1.0f}, {32000, 1.0f, 0, 0.9f}};
    for (const Case &cs : cases) {
        // Language-model-like logits: a broad body and a few strong entries.
        std::vector<float> x(cs.n), y(cs.n);
        for (auto &v : x) v = normal(rng);
        for (int j = 0; j < 20; j++) x[rng() % cs.n] += 4.0f + 8.0f * (rng() % 1000) / 1000.0f;
        std::vector<std::pair<float, int32_t>> c;
        std::vector<double> tf, ts, tr;
        float u = 0.37f;
        size_t got = 0, want = 0;
        for (int r = 0; r < rounds; r++) {
            tf.push_back(time_ns([&] {
                softmax_sample_f32(x.data(), cs.n, cs.t, cs.top_k, cs.top_p, u, &got);
            }, 5));
            ts.push_back(time_ns([&] { softmax_f32(x.data(), y.data(), cs.n); }, 5));
            tr.push_back(time_ns([&] { want = sample_sorted(x.data(), cs.n, cs.t, cs.top_k, cs.top_p, u, c); }, 2));
        }
        double f = median(tf) / 1e3, s = median(ts) / 1e3, rf = median(tr) / 1e3;
        std::printf("| %zu | %.1f / %zu / %.1f | %.1f | %.1f | %.2fx | %.1f | %.1fx |%s\n", cs.n, cs.t,
                    cs.top_k, cs.top_p, f, s, f / s, rf, rf / f,
                    got == want ? "" : " (draw differs from the float reference)");
    }
    return 0;
}
