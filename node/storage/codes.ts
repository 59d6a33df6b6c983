/** Compact one-byte codes for enumerations in stored index keys and values. */
export const ALG_CODES = { md5: 1, sha1: 2, sha256: 3, pdq: 4, photodna: 5, tmk_pdqf: 6, url_sha256: 7 } as const
export const CATEGORY_CODES = { A1: 1, A2: 2, B1: 3, B2: 4 } as const
export const TYPE_CODES = { indicator: 1, revocation: 2, attestation: 3, roster: 4 } as const

export type AlgName = keyof typeof ALG_CODES
export type CategoryName = keyof typeof CATEGORY_CODES
export type TypeName = keyof typeof TYPE_CODES

function invert<T extends Record<string, number>>(o: T): Map<number, keyof T> {
  return new Map(Object.entries(o).map(([k, v]) => [v, k as keyof T]))
}

export const ALG_NAMES = invert(ALG_CODES)
export const CATEGORY_NAMES = invert(CATEGORY_CODES)
export const TYPE_NAMES = invert(TYPE_CODES)
