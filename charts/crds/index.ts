// TRANSITIONAL, to be deleted by h16 once the peers started before the move are up: a `peers:up`
// launched from an older checkout imports this path to install the CRDs. The CRDs live in api/crds/.
export { ghosteamCrds } from '../../api/crds/index.ts';
