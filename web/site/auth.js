// Signing in with a Cognito user pool's JSON API (USER_PASSWORD_AUTH), as the API's tokens need:
// the ID token goes to the API as a bearer token. Tokens live in sessionStorage, so they end with
// the tab, and the ID token is refreshed (REFRESH_TOKEN_AUTH) shortly before it expires.

import { SIGN_IN_ERRORS } from './messages.js';

const STORAGE_KEY = 'image-upload.session';
/** Refresh this long before the ID token expires, so no request carries a token about to lapse. */
const REFRESH_MARGIN_MS = 60_000;

/** A sign-in failure with a sentence for the person signing in. `refused`: Cognito answered no
 * (as opposed to not answering at all). */
export class SignInError extends Error {
  constructor(message, { refused = true } = {}) {
    super(message);
    this.refused = refused;
  }
}

export class Session {
  /** `auth` is config.json's `auth`: region, userPoolClientId, cognitoEndpoint. */
  constructor(auth, { onSignedOut } = {}) {
    this.auth = auth;
    this.onSignedOut = onSignedOut ?? (() => {});
    this.state = readStored();
    this.refreshTimer = null;
    this.refreshing = null;
    /** Bumped by every sign-out: a refresh answered after it belongs to a session that is over. */
    this.generation = 0;
    if (this.state) this.scheduleRefresh();
  }

  get signedIn() {
    return this.state !== null;
  }

  /** The name the ID token carries (email, else username), for the header. */
  get displayName() {
    if (!this.state) return '';
    const claims = decodeClaims(this.state.idToken);
    return claims.email ?? claims['cognito:username'] ?? this.state.username;
  }

  /** Signs in; throws a SignInError with a sentence to show. */
  async signIn(username, password) {
    const result = await this.call('InitiateAuth', {
      AuthFlow: 'USER_PASSWORD_AUTH',
      ClientId: this.auth.userPoolClientId,
      AuthParameters: { USERNAME: username, PASSWORD: password },
    });
    if (result.ChallengeName) {
      throw new SignInError(
        result.ChallengeName === 'NEW_PASSWORD_REQUIRED'
          ? 'This account must choose a new password before it can sign in here.'
          : 'This account needs a sign-in step this page does not offer.',
      );
    }
    this.store(result.AuthenticationResult, username, result.AuthenticationResult.RefreshToken);
  }

  /** An ID token valid for at least a minute more, refreshing it first if needed; null when signed out. */
  async idToken() {
    if (!this.state) return null;
    if (Date.now() > this.state.expiresAt - REFRESH_MARGIN_MS) await this.refresh();
    return this.state?.idToken ?? null;
  }

  /** Exchanges the refresh token for a new ID token; signs out when that is refused. */
  refresh() {
    if (!this.state) return Promise.resolve();
    // One refresh at a time: concurrent requests wait for the same one.
    this.refreshing ??= (async () => {
      const { refreshToken, username } = this.state;
      const generation = this.generation;
      try {
        const result = await this.call('InitiateAuth', {
          AuthFlow: 'REFRESH_TOKEN_AUTH',
          ClientId: this.auth.userPoolClientId,
          AuthParameters: { REFRESH_TOKEN: refreshToken },
        });
        // Signed out while Cognito was answering: storing the tokens would sign the user back in.
        if (generation !== this.generation) return;
        // A refresh answer carries no new refresh token: the old one stays valid.
        this.store(result.AuthenticationResult, username, refreshToken);
      } catch (err) {
        // Refused: the session is over. Unreachable: keep it, the next request tries again.
        if (generation !== this.generation) return; // Already signed out: nothing more to say.
        if (err instanceof SignInError && err.refused) {
          this.signOut('Your session has ended. Please sign in again.');
        } else {
          throw err;
        }
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Forgets the tokens; `reason` (if any) is shown on the sign-in form. */
  signOut(reason = '') {
    this.generation += 1;
    clearTimeout(this.refreshTimer);
    // Best effort: ask Cognito to revoke the refresh token (and the tokens issued from it), so a
    // copy left anywhere stops working. Signing out here never waits for it or depends on it: a
    // pool or emulator that refuses or lacks RevokeToken leaves the token to expire on its own.
    if (this.state?.refreshToken) {
      this.call('RevokeToken', { ClientId: this.auth.userPoolClientId, Token: this.state.refreshToken }).catch(
        () => {},
      );
    }
    this.state = null;
    sessionStorage.removeItem(STORAGE_KEY);
    this.onSignedOut(reason);
  }

  store(result, username, refreshToken) {
    this.state = {
      idToken: result.IdToken,
      refreshToken,
      username,
      expiresAt: Date.now() + result.ExpiresIn * 1000,
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.state));
    this.scheduleRefresh();
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    const wait = Math.max(0, this.state.expiresAt - REFRESH_MARGIN_MS - Date.now());
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  /** One call to the Cognito JSON API; Cognito's errors become SignInErrors with a sentence. */
  async call(operation, body) {
    let response;
    try {
      response = await fetch(this.auth.cognitoEndpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `AWSCognitoIdentityProviderService.${operation}`,
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw new SignInError('The sign-in service cannot be reached. Check your connection and try again.', {
        refused: false,
      });
    }
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      // `__type` may be prefixed with a namespace ("com.amazonaws...#NotAuthorizedException").
      const type = String(answer.__type ?? '').split('#').pop();
      throw new SignInError(SIGN_IN_ERRORS[type] ?? 'Sign-in failed. Try again in a moment.');
    }
    return answer;
  }
}

function readStored() {
  try {
    const state = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null');
    return state?.idToken && state?.refreshToken ? state : null;
  } catch {
    return null;
  }
}

/** The claims of a JWT, unverified: only for showing who is signed in (the API verifies). */
function decodeClaims(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(
      [...atob(payload)].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''),
    );
    return JSON.parse(json);
  } catch {
    return {};
  }
}
