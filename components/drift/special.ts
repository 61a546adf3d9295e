/**
 * Special functions the drift tests need, written to agree with SciPy to ~1e-12 relative:
 *  - chi2Sf(x, dof): upper regularized incomplete gamma Q(dof/2, x/2) (series / Lentz continued fraction).
 *  - kstwoSf(d, n): survival function of the two-sided one-sample KS statistic D_n (SciPy's `kstwo.sf`),
 *    following the same regime split as scipy.stats._ksstats._kolmogn (Ruben-Gambino, Durbin matrix,
 *    Pomeranz, Pelz-Good, and 2 x one-sided Smirnov).
 *  - smirnovSf(n, d): one-sided Smirnov D+_n survival (Birnbaum-Tingey sum, evaluated in log space with a
 *    Stirling-split binomial so no term loses more than a few ulps of n*d).
 * Pure functions, no allocation in hot loops beyond small fixed arrays.
 */

const LN_2PI = Math.log(2 * Math.PI);
const SQRT2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI * Math.PI;
const PI4 = PI2 * PI2;
const PI6 = PI4 * PI2;
/** cephes MINLOG: log of the smallest normal double. */
const MINLOG = -7.08396418532264106224e2;
const EP128 = 2 ** 128;
const EM128 = 2 ** -128;

/** ln(k!) for small k, summed exactly enough (k <= 30). */
const LN_FACT: number[] = (() => {
  const t = [0];
  for (let k = 1; k <= 30; k++) t.push(t[k - 1] + Math.log(k));
  return t;
})();

/** Stirling remainder c(k) = ln k! - [(k + 1/2) ln k - k + ln(2π)/2]  (k >= 1). */
function stirlingRemainder(k: number): number {
  if (k <= 30) return LN_FACT[k] - ((k + 0.5) * Math.log(k) - k + 0.5 * LN_2PI);
  const r = 1 / k;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
}

/** ln C(n, k) for integers 0 <= k <= n, accurate to a few ulps of its magnitude without cancellation. */
export function lnBinom(n: number, k: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (k === 0 || k === n) return 0;
  if (n <= 30) return LN_FACT[n] - LN_FACT[k] - LN_FACT[n - k];
  const m = n - k;
  return (
    -k * Math.log(k / n) - m * Math.log(m / n) + 0.5 * Math.log(n / (2 * Math.PI * k * m)) + stirlingRemainder(n) - stirlingRemainder(k) - stirlingRemainder(m)
  );
}

/** C(n, k) as a float, with SciPy's product formula for small k and the log form otherwise. */
export function binom(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let kx = k;
  if (kx > n / 2) kx = n - kx;
  if (kx < 20) {
    let num = 1;
    let den = 1;
    for (let i = 1; i < 1 + kx; i++) {
      num *= i + n - kx;
      den *= i;
      if (Math.abs(num) > 1e50) {
        num /= den;
        den = 1;
      }
    }
    return num / den;
  }
  return Math.exp(lnBinom(n, kx));
}

/** ln Γ(a) for a > 0 that is an integer or a half-integer (the chi-square case). */
export function lnGammaHalfInt(a: number): number {
  if (a > 25) {
    const r = 1 / a;
    const r2 = r * r;
    return (a - 0.5) * Math.log(a) - a + 0.5 * LN_2PI + r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 / 1188))));
  }
  if (Number.isInteger(a)) return LN_FACT[a - 1];
  // Γ(k + 1/2) = √π · Π_{j=1..k} (j - 1/2)
  let s = 0.5 * Math.log(Math.PI);
  for (let j = 1; j < a; j++) s += Math.log(j - 0.5);
  return s;
}

/** Q(a, x) = Γ(a, x)/Γ(a), for a an integer or half-integer > 0. */
export function gammaQ(a: number, x: number): number {
  if (!(x > 0)) return 1;
  if (x === Infinity) return 0;
  const lnPre = -x + a * Math.log(x) - lnGammaHalfInt(a);
  if (x < a + 1) {
    let ap = a;
    let term = 1 / a;
    let sum = term;
    for (let i = 0; i < 100000; i++) {
      ap += 1;
      term *= x / ap;
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-17) break;
    }
    return Math.min(1, Math.max(0, 1 - sum * Math.exp(lnPre)));
  }
  const FPMIN = 1e-300;
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, Math.exp(lnPre) * h));
}

/** Survival function of the chi-square distribution (scipy.stats.chi2.sf). */
export function chi2Sf(x: number, dof: number): number {
  return gammaQ(dof / 2, x / 2);
}

/** Survival function of the standard normal, 2-sided helper: P(|Z| > z) via erfc. */
export function normSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** erfc with relative accuracy ~1e-15 (Q(1/2, x²) for x >= 0). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x === 0) return 1;
  return gammaQ(0.5, x * x);
}

// ---------------------------------------------------------------------------------------------
// One-sided Smirnov (scipy.special.smirnov)

/** Exact n*x as floor and fractional part, using an error-free product (Dekker). */
function modNX(n: number, x: number): { nxfl: number; alpha: number; nx: number } {
  const p = n * x;
  const SPLIT = 134217729; // 2^27 + 1
  const split = (a: number): [number, number] => {
    const c = SPLIT * a;
    const hi = c - (c - a);
    return [hi, a - hi];
  };
  const [nh, nl] = split(n);
  const [xh, xl] = split(x);
  const err = nh * xh - p + nh * xl + nl * xh + nl * xl;
  let fl = Math.floor(p);
  let alpha = p - fl + err;
  if (alpha < 0) {
    fl -= 1;
    alpha += 1;
  }
  if (alpha >= 1) {
    fl += 1;
    alpha -= 1;
  }
  return { nxfl: fl, alpha, nx: p };
}

/** P(D+_n > x), the one-sided one-sample Smirnov survival function. */
export function smirnovSf(n: number, x: number): number {
  if (!(n > 0 && x >= 0 && x <= 1)) return NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;
  const { nxfl, alpha } = modNX(n, x);
  if (nxfl === 0 || (nxfl === 1 && alpha === 0)) {
    const cdf = x * Math.exp((n - 1) * Math.log1p(x));
    return Math.min(1, Math.max(0, 1 - cdf));
  }
  if (-2 * n * x * x < MINLOG) return 0;
  if (nxfl >= n - 1) return Math.exp(n * Math.log1p(-x));
  if (n > 1_000_000) {
    const logp = -Math.pow(6 * n * x + 1, 2) / 18 / n;
    return logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp);
  }
  // Lower sum: x * Σ_{v=0}^{n-nxfl-1} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1); every term is positive.
  const nTerms = n - nxfl;
  const nx = n * x;
  let sum = Math.exp(n * Math.log1p(-x)) / x; // v = 0
  for (let v = 1; v < nTerms; v++) {
    const m = n - v;
    const lnA =
      m * Math.log1p(-nx / m) +
      v * Math.log1p(nx / v) -
      Math.log(x + v / n) +
      0.5 * Math.log(n / (2 * Math.PI * v * m)) +
      stirlingRemainder(n) -
      stirlingRemainder(v) -
      stirlingRemainder(m);
    const a = Math.exp(lnA);
    sum += a;
    if (a !== 0 && 4 * (nTerms - v) * a < Number.EPSILON * sum && v !== nTerms - 1) break;
    if (a === 0 && v > n / 2) break;
  }
  return Math.min(1, Math.max(0, x * sum));
}

// ---------------------------------------------------------------------------------------------
// Two-sided one-sample KS distribution (scipy.stats.kstwo.sf)

const STIRLING_COEFFS = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4,
  -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];

function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  const t = rn / n;
  let poly = 0;
  for (const c of STIRLING_COEFFS) poly = poly * t + c;
  return Math.log(n) / 2 - n + LN_2PI / 2 + rn * poly;
}

function clip(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += aik * b[k * m + j];
    }
  }
  return out;
}

/** Durbin's matrix algorithm (Marsaglia-Tsang-Wang) for the CDF of D_n. */
function kolmogDMTWCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Float64Array = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - Math.pow(h, j)) * fac;
  }
  const tt = Math.pow(Math.max(2 * h - 1, 0), m) - 2 * Math.pow(h, m);
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  }
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];
  let P: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) P[i * m + i] = 1;
  let nn = n;
  let expnt = 0;
  let Hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += Hexpnt;
    }
    H = matmul(H, H, m);
    Hexpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > EP128) {
      for (let i = 0; i < H.length; i++) H[i] /= EP128;
      Hexpnt += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[(k - 1) * m + (k - 1)];
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= 128;
    }
  }
  if (expnt !== 0) p = p * Math.pow(2, expnt);
  return clip(p);
}

function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** Pomeranz's recursion for the CDF of D_n. */
function kolmogPomeranzCdf(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1;
  let expnt = 0;
  const gn = g / n;
  const g2n = (2 * g) / n;
  const om2g = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1] * gn) / m;
    twogpower[m] = (twogpower[m - 1] * g2n) / m;
    onem2gpower[m] = (onem2gpower[m - 1] * om2g) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let [j1, j2] = pomeranzJ1J2(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    const tmp = V0;
    V0 = V1;
    V1 = tmp;
    const tmps = V0s;
    V0s = V1s;
    V1s = tmps;
    V1.fill(0);
    [j1, j2] = pomeranzJ1J2(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      const base = k1 - V0s;
      let mx = 0;
      for (let c = 0; c < convLen; c++) {
        const idx = convStart + c; // index into full convolution of V0[base..base+ln2) and pwrs[0..ln2)
        let s = 0;
        const lo = Math.max(0, idx - (ln2 - 1));
        const hi = Math.min(idx, ln2 - 1);
        for (let a = lo; a <= hi && base + a < npwrs; a++) s += V0[base + a] * pwrs[idx - a];
        V1[c] = s;
        if (s > mx) mx = s;
      }
      if (mx > 0 && mx < EM128) {
        for (let c = 0; c < npwrs; c++) V1[c] *= EP128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s];
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans = ans * Math.pow(2, expnt);
  return clip(ans);
}

/** Pelz-Good asymptotic series for the CDF of D_n (large n). */
function kolmogPelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * Math.pow(z, 8);
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = Math.pow(q, 8 * k);
    const c = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qp + c[i];
  }
  const den = [z, 6 * z4, 72 * Math.pow(z, 7), 6480 * Math.pow(z, 10)];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / den[i];
  q = Math.exp(-PI2 / 2 / z2);
  const sqrt3z = Math.sqrt(3) * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const ks2 = k * k;
    const qp = Math.pow(q, ks2);
    k2extra += ks2 * qp;
    const kspi = Math.PI * k;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ks2 * qp;
  }
  K[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let s = 0;
  for (let i = 0; i < 4; i++) s += K[i] / Math.pow(n, i / 2);
  return s;
}

/** P(D_n >= x) for the two-sided one-sample KS statistic: scipy.stats.kstwo.sf(x, n). */
export function kstwoSf(x: number, n: number): number {
  if (!Number.isInteger(n) || n <= 0) return NaN;
  if (Number.isNaN(x)) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    }
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * Math.pow(1 - x, n));
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip(1 - kolmogDMTWCdf(n, x));
    if (nx2 <= 4) return clip(1 - kolmogPomeranzCdf(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, x));
  let cdf: number;
  if (nx2 >= 18) cdf = 1;
  else if (n <= 100000 && n * Math.pow(x, 1.5) <= 1.4) cdf = kolmogDMTWCdf(n, x);
  else cdf = kolmogPelzGoodCdf(n, x);
  return clip(1 - cdf);
}
