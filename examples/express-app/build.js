// The build step (npm run build): an asset made at build time, served by the web process.
const fs = require("fs");
fs.mkdirSync("public", { recursive: true });
fs.writeFileSync("public/built.txt", `built with node ${process.version}\n`);
