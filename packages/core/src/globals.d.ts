// The WHATWG text codecs exist in every JavaScript runtime; core declares the part it uses
// instead of depending on a platform's type library.
declare class TextEncoder {
  encode(input?: string): Uint8Array
}
declare class TextDecoder {
  constructor(label?: string)
  decode(input?: Uint8Array, options?: { readonly stream?: boolean }): string
}
