export { createKeySet, type JwksSource, type KeySet, type KeySetOptions } from "./key-set.ts";
export { createTokenVerifier, type TokenAlgorithm, type TokenVerifier, type TokenVerifierOptions, type VerifiedToken } from "./verifier.ts";
