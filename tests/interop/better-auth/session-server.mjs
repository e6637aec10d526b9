// Real Better Auth as an HTTP server (its Node handler), with the bearer()
// plugin, memory adapter and email + password, for tests/better_auth_sessions.rs.
// Usage: node session-server.mjs PORT    prints "listening" once it accepts.
import { createServer } from "node:http";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer } from "better-auth/plugins";

const port = Number(process.argv[2]);
const baseURL = `http://127.0.0.1:${port}`;
const auth = betterAuth({
  baseURL,
  secret: "interop-secret-interop-secret-interop-secret",
  database: memoryAdapter({ user: [], session: [], account: [], verification: [] }),
  emailAndPassword: { enabled: true },
  plugins: [bearer()],
  logger: { disabled: true },
});
createServer(toNodeHandler(auth)).listen(port, "127.0.0.1", () => console.log("listening"));
