// Answers the runner's "cpu" message with this process's CPU time (µs), so the
// benchmark can report CPU per call on the server side too.
process.on("message", (message) => {
  if (message !== "cpu") return;
  const { user, system } = process.cpuUsage();
  process.send?.({ cpu: user + system });
});
