package c2sp

import "math/big"

// WeakEd25519Key says why a 32-byte Ed25519 public key is one that strict
// verifiers (libsodium, cairn) reject but Go's crypto/ed25519 accepts:
// "non-canonical" (y >= p, or x = 0 with the sign bit set), "small-order"
// ([8]A is the identity), "not-a-point", or "" for an ordinary key. It is
// used only to label invalid vectors that Go cannot judge; it follows the
// decoding of RFC 8032 §5.1.3 with math/big (slow, but only run on vectors).
func WeakEd25519Key(pub []byte) string {
	if len(pub) != 32 {
		return "not-a-point"
	}
	le := make([]byte, 32)
	for i := range pub {
		le[31-i] = pub[i]
	}
	sign := le[0] >> 7
	le[0] &= 0x7f
	y := new(big.Int).SetBytes(le)
	if y.Cmp(fieldP) >= 0 {
		return "non-canonical"
	}
	y2 := mulMod(y, y)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Add(mulMod(curveD, y2), big.NewInt(1))
	x2 := mulMod(u, new(big.Int).ModInverse(v.Mod(v, fieldP), fieldP))
	x := new(big.Int).ModSqrt(x2, fieldP)
	if x == nil {
		return "not-a-point"
	}
	if x.Sign() == 0 && sign == 1 {
		return "non-canonical"
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(fieldP, x)
	}
	px, py := x, y
	for i := 0; i < 3; i++ {
		px, py = edAdd(px, py, px, py)
	}
	if px.Sign() == 0 && py.Cmp(big.NewInt(1)) == 0 {
		return "small-order"
	}
	return ""
}

var (
	fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	curveD = func() *big.Int { // d = -121665 / 121666
		n := new(big.Int).Sub(fieldP, big.NewInt(121665))
		return mulMod(n, new(big.Int).ModInverse(big.NewInt(121666), fieldP))
	}()
)

func mulMod(a, b *big.Int) *big.Int {
	r := new(big.Int).Mul(a, b)
	return r.Mod(r, fieldP)
}

// edAdd is the complete affine addition law of the twisted Edwards curve
// -x^2 + y^2 = 1 + d x^2 y^2.
func edAdd(x1, y1, x2, y2 *big.Int) (*big.Int, *big.Int) {
	t := mulMod(curveD, mulMod(mulMod(x1, x2), mulMod(y1, y2)))
	one := big.NewInt(1)
	xn := new(big.Int).Add(mulMod(x1, y2), mulMod(x2, y1))
	xd := new(big.Int).Add(one, t)
	yn := new(big.Int).Add(mulMod(y1, y2), mulMod(x1, x2))
	yd := new(big.Int).Sub(one, t)
	x3 := mulMod(xn, new(big.Int).ModInverse(xd.Mod(xd, fieldP), fieldP))
	y3 := mulMod(yn, new(big.Int).ModInverse(yd.Mod(yd, fieldP), fieldP))
	return x3, y3
}
