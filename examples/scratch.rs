use softmax::*;
fn oracle(x: &[f32]) -> Vec<f64> {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
    let s: f64 = x.iter().map(|&v| (v as f64 - m).exp()).sum();
    x.iter().map(|&v| (v as f64 - m).exp() / s).collect()
}
fn main() {
    let mut seed = 12345u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 40) as f32) / (1u64 << 24) as f32
    };
    for &n in &[1usize, 7, 8, 33, 100, 1000, 5000, 100_003, 1_000_003] {
        let x: Vec<f32> = (0..n).map(|_| rnd() * 20.0 - 10.0).collect();
        let o = oracle(&x);
        for isa in [Isa::Scalar, Isa::Avx2] {
            let sm = Softmax::with_isa(isa).unwrap();
            for alg in Algorithm::ALL {
                let mut y = vec![0.0; n];
                sm.softmax_with(&x, &mut y, alg).unwrap();
                let mut worst = 0.0f64;
                for i in 0..n {
                    if o[i] > 1e-30 {
                        worst = worst.max(((y[i] as f64) - o[i]).abs() / o[i]);
                    }
                }
                println!("n={n} {:?} {:?} rel={worst:.3e}", isa, alg);
            }
            let l = sm.logsumexp(&x);
            let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
            let lo = m + x.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
            let mut y = vec![0.0; n];
            sm.log_softmax(&x, &mut y).unwrap();
            let mut wl = 0.0f64;
            for i in 0..n {
                wl = wl.max(
                    ((y[i] as f64) - (x[i] as f64 - lo)).abs() / (x[i] as f64 - lo).abs().max(1.0),
                );
            }
            println!(
                "n={n} {:?} lse rel={:.3e} logsm={wl:.3e}",
                isa,
                ((l as f64) - lo).abs() / lo.abs()
            );
        }
    }
}
