export { CredentialVerifier, isCredential, rosterIssuers, type CredentialStats } from './verifier.ts'
export { RevocationSet, type RevocationStats } from './revocations.ts'
export { RevocationRelay, PROTO_CREDENTIAL_REVOCATIONS, type RevocationRelayStats } from './relay.ts'
export { CredentialDesk, issueCredential, type IssuedView } from './issuer.ts'
