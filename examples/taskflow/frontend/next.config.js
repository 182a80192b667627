/** The standalone output: a server.js with only the modules it needs, for a small image. */
module.exports = { output: "standalone" };
