const express = require("express");
const { Client } = require("pg");

const app = express();
app.use(express.static("public"));
app.get("/", async (request, response) => {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  const { rows } = await client.query("SELECT note FROM visits ORDER BY id");
  await client.end();
  response.send(`${process.env.GITDEPLOY_RELEASE} releases: ${rows.map((r) => r.note).join(",")}\n`);
});
app.listen(Number(process.env.PORT), "127.0.0.1", () => console.log(`listening on ${process.env.PORT}`));
