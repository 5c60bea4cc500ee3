// Builds the StreamAuthenticator --auth asks for. Start-up configuration errors (unreadable
// token file, kubeconfig without a cluster) throw here, before the servers listen.
import type { AuthConfig, SourceConfig } from '../config.js';
import { loadKubeConfig } from '../sources/kubernetes.js';
import { StaticTokenAuthenticator } from './static-token-auth.js';
import { noAuth, type StreamAuthenticator } from './stream-auth.js';
import { kubeTokenReviewer, TokenReviewAuthenticator } from './token-review-auth.js';

export async function createAuthenticator(auth: AuthConfig, source: SourceConfig): Promise<StreamAuthenticator> {
  switch (auth.type) {
    case 'none':
      return noAuth;
    case 'token-file': {
      const authenticator = new StaticTokenAuthenticator(auth.path);
      try {
        await authenticator.check();
      } catch (err) {
        throw new Error(`--auth token-file: cannot use ${auth.path}: ${(err as Error).message}`);
      }
      return authenticator;
    }
    case 'kubernetes': {
      // The same credentials as the source: its ServiceAccount needs create on tokenreviews.
      const kubeconfig = loadKubeConfig(source.type === 'kubernetes' && source.kubeconfig ? { path: source.kubeconfig } : undefined);
      return new TokenReviewAuthenticator({ review: kubeTokenReviewer(kubeconfig), audience: auth.audience });
    }
  }
}
