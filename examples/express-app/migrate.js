// The release phase: runs once per release, before the new code serves a request.
const { Client } = require("pg");

async function main() {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  await client.query("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, note text)");
  await client.query("INSERT INTO visits (note) VALUES ($1)", [process.env.GITDEPLOY_RELEASE]);
  const { rows } = await client.query("SELECT count(*)::int AS n FROM visits");
  console.log(`migrated: ${rows[0].n} release(s) recorded`);
  await client.end();
}

main().catch((error) => { console.error(error.message); process.exit(1); });
