// Real Better Auth (its jwt plugin, memory adapter, email + password), run
// offline: for each signing algorithm, sign up two users, fetch their JWTs the
// way a frontend does (GET /api/auth/token with the session cookie), and the
// JWKS (GET /api/auth/jwks). Prints one JSON document for the Rust test.
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwt } from "better-auth/plugins";

const BASE_URL = process.argv[2] ?? "http://localhost:3000";
const ALGORITHMS = (process.argv[3] ?? "EdDSA,ES256,ES512,RS256,PS256").split(",");

async function call(auth, path, init = {}) {
  const response = await auth.handler(new Request(`${BASE_URL}/api/auth${path}`, init));
  const body = await response.text();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${body}`);
  return { response, json: JSON.parse(body) };
}

async function signUp(auth, email) {
  const { response, json } = await call(auth, "/sign-up/email", {
    method: "POST",
    headers: { "content-type": "application/json", origin: BASE_URL },
    body: JSON.stringify({ email, password: "correct horse battery staple", name: email.split("@")[0] }),
  });
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const { json: token } = await call(auth, "/token", { headers: { cookie } });
  return { id: json.user.id, email, token: token.token };
}

const results = [];
for (const alg of ALGORITHMS) {
  const auth = betterAuth({
    baseURL: BASE_URL,
    secret: "interop-secret-interop-secret-interop-secret",
    database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
    emailAndPassword: { enabled: true },
    plugins: [jwt({ jwks: { keyPairConfig: { alg } } })],
    logger: { disabled: true },
  });
  const alice = await signUp(auth, `alice-${alg.toLowerCase()}@example.com`);
  const bob = await signUp(auth, `bob-${alg.toLowerCase()}@example.com`);
  const { json: jwks } = await call(auth, "/jwks");
  results.push({ alg, jwks, users: [alice, bob] });
}
process.stdout.write(JSON.stringify({ origin: new URL(BASE_URL).origin, results }));
