#!/usr/bin/env python3
"""Prints the table of src/kernels/ln.rs: for t = 1 + i/128 (i = 0..=128), c = 1/t rounded to
a multiple of 2^-9 and -ln(c) split as hi + lo, hi a multiple of 2^-32 (so that k*LN2_HI + hi is exact in f64
for any binary exponent k) and lo = -ln(c) - hi rounded to f64. Uses only the standard
library (decimal arithmetic at 60 digits)."""
import decimal
import struct
from decimal import Decimal as D

decimal.getcontext().prec = 60
SCALE = D(2) ** 32


def f64_hex(v):
    return "0x%016x" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]


def split(v):
    hi = (v * SCALE).to_integral_value(rounding=decimal.ROUND_HALF_EVEN) / SCALE
    return hi, v - hi


ln2_hi, ln2_lo = split(D(2).ln())
print("/// `ln 2` as a multiple of 2^-32.")
print("const LN2_HI: f64 = f64::from_bits(%s);" % f64_hex(ln2_hi))
print("/// `ln 2 - LN2_HI`, rounded to f64.")
print("const LN2_LO: f64 = f64::from_bits(%s);" % f64_hex(ln2_lo))
print("/// `[c, hi, lo]` for `t = 1 + i/128`: `c = 1/t` rounded to a multiple of 2^-9,")
print("/// `-ln c = hi + lo`, `hi` a multiple of 2^-32.")
print("#[rustfmt::skip]")
print("static TABLE: [[u64; 3]; 129] = [")
for i in range(129):
    t = 1 + D(i) / 128
    # 1/t rounded to a multiple of 2^-9 (9 significant bits in [0.5, 1]): then m*c - 1 is
    # exact in f64 for any m in [1, 2) near t, so one fused multiply-add gives r exactly.
    c = (512 / t).to_integral_value(rounding=decimal.ROUND_HALF_EVEN) / 512
    hi, lo = split(-c.ln())
    assert float(hi) == hi
    print("    [%s, %s, %s]," % (f64_hex(c), f64_hex(hi), f64_hex(lo)))
print("];")
