using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MLNetExtensions.Tests.Detection;

namespace MLNetExtensions.Tests.Training;

/// <summary>
/// Training killed for real: a child process (tests/MLNetExtensions.TrainingHost) trains a tiny SSD with a checkpoint every
/// two steps, and the test kills it with SIGKILL at random moments (inside a checkpoint write, which the child slows
/// through the store's test-only hook, at a random time, or just after a step), restarts it, and repeats. Every
/// checkpoint a killed run leaves published must be byte for byte the one the uninterrupted run wrote at that step, the
/// restarted run must resume from exactly the one <c>latest.json</c> names, and the run must end on the uninterrupted
/// run's model bytes.
/// </summary>
[TestClass]
public sealed class CheckpointKillTests
{
    private const int Steps = 40, Every = 2, SlowWriteMs = 80, Kills = 20;

    private static string HostPath => Path.Combine(AppContext.BaseDirectory, "MLNetExtensions.TrainingHost.dll");

    /// <summary>A running child: its stdout lines as they come, with the time each came.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly List<(string Line, TimeSpan At)> _lines = [];
        private readonly StringBuilder _stderr = new();
        public readonly Stopwatch Clock = Stopwatch.StartNew();

        public Child(string folder, string output, int slowWriteMs, string? capture = null)
        {
            var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in new[] { HostPath, DetectorTrainingTests.TinyShapes, folder, output, $"{Steps}", $"{Every}", $"{slowWriteMs}" }) info.ArgumentList.Add(a);
            if (capture != null) info.ArgumentList.Add(capture);
            _process = new Process { StartInfo = info };
            _process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_lines) _lines.Add((e.Data, Clock.Elapsed)); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_stderr) _stderr.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public List<(string Line, TimeSpan At)> Lines { get { lock (_lines) return [.. _lines]; } }

        public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public List<int> StepsSeen => Lines.Where(l => l.Line.StartsWith("STEP ", StringComparison.Ordinal)).Select(l => int.Parse(l.Line[5..])).ToList();

        public int Count(string prefix) => Lines.Count(l => l.Line.StartsWith(prefix, StringComparison.Ordinal));

        /// <summary>Waits until <paramref name="done"/> holds or the child exits; false when it exited first.</summary>
        public bool WaitFor(Func<Child, bool> done)
        {
            while (!done(this))
            {
                if (_process.HasExited) { _process.WaitForExit(); return done(this); }
                if (Clock.Elapsed > TimeSpan.FromSeconds(120)) throw new TimeoutException("The training host ran for 2 minutes:\n" + string.Join("\n", Lines.Select(l => l.Line)) + Stderr);
                Thread.Sleep(1);
            }
            return true;
        }

        /// <summary>SIGKILL (Process.Kill on Unix): no finalizer, no flush, no cleanup runs in the child.</summary>
        public void Kill()
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }   // it had just exited
            _process.WaitForExit();
        }

        public void WaitForExit()
        {
            WaitFor(_ => false);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited) Kill();
            _process.Dispose();
        }
    }

    [TestMethod]
    public void TwentyRandomKillsEndOnTheUninterruptedRunsModelAndNeverResumeAHalfWrittenCheckpoint()
    {
        Assert.IsTrue(File.Exists(HostPath), $"The training host was not built at '{HostPath}'; build the solution.");
        int seed = int.TryParse(Environment.GetEnvironmentVariable("MLNETEXT_KILL_SEED"), out int given) ? given : Random.Shared.Next();
        var rng = new Random(seed);
        var log = new StringBuilder($"seed {seed} (rerun with MLNETEXT_KILL_SEED={seed})\n");
        string Why(string what) => $"{what}\n{log}";
        var root = CheckpointFaultTests.TempFolder("kill");
        var total = Stopwatch.StartNew();

        // The uninterrupted run, copying every checkpoint it writes; its timings scale the random kill moments.
        string capture = Path.Combine(root, "reference-checkpoints"), referenceModel = Path.Combine(root, "reference.onnx");
        TimeSpan firstStep, perStep;
        using (var reference = new Child(Path.Combine(root, "reference"), referenceModel, slowWriteMs: 0, capture))
        {
            reference.WaitForExit();
            Assert.AreEqual(0, reference.ExitCode, "the uninterrupted run: " + reference.Stderr);
            var steps = reference.Lines.Where(l => l.Line.StartsWith("STEP ", StringComparison.Ordinal)).ToList();
            CollectionAssert.AreEqual(Enumerable.Range(1, Steps).ToList(), reference.StepsSeen);
            firstStep = steps[0].At;
            perStep = (steps[^1].At - steps[0].At) / (Steps - 1);
            log.AppendLine($"reference: first step after {firstStep.TotalMilliseconds:F0} ms, then {perStep.TotalMilliseconds:F0} ms a step");
        }
        byte[] expected = File.ReadAllBytes(referenceModel);
        CollectionAssert.AreEqual(Enumerable.Range(1, Steps / Every).Select(s => $"step-{s * Every:D8}").ToList(),
            Directory.GetDirectories(capture).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList(), "the reference run wrote a checkpoint every two steps");

        int kills = 0, runs = 0, killedInsideAWrite = 0, finished = 0;
        string folder = "", output = "";
        int? resumeAt = null;   // the step the next child must resume from (null: a fresh folder)
        void NewRun()
        {
            runs++;
            folder = Path.Combine(root, $"run-{runs}");
            output = Path.Combine(root, $"run-{runs}.onnx");
            resumeAt = null;
        }
        NewRun();
        while (true)
        {
            bool last = kills == Kills;   // after the 20th kill, the run goes to its end
            using var child = new Child(folder, output, SlowWriteMs);
            int mode = rng.Next(3);
            string plan;
            bool reached;
            if (last) { plan = "no kill"; reached = false; child.WaitForExit(); }
            else if (mode == 0)
            {
                // Inside a checkpoint write: after the k-th file written, while the child sleeps in the write hook.
                int k = rng.Next(1, 7), delay = rng.Next(SlowWriteMs / 2);
                plan = $"kill {delay} ms after written file {k}";
                reached = child.WaitFor(c => c.Count("WRITING ") >= k);
                if (reached) Thread.Sleep(delay);
            }
            else if (mode == 1)
            {
                // At a random moment of the start-up and the first steps (loading, resuming, training, saving).
                var at = TimeSpan.FromMilliseconds(rng.NextDouble() * (firstStep + TimeSpan.FromSeconds(1)).TotalMilliseconds);
                plan = $"kill at {at.TotalMilliseconds:F0} ms";
                reached = child.WaitFor(c => c.Clock.Elapsed >= at);
            }
            else
            {
                // Just after the k-th step of this child, where a checkpoint step goes on to save.
                int k = rng.Next(1, 4), delay = rng.Next((int)perStep.TotalMilliseconds + 1);
                plan = $"kill {delay} ms after this child's step {k}";
                reached = child.WaitFor(c => c.StepsSeen.Count >= k);
                if (reached) Thread.Sleep(delay);
            }
            if (reached) child.Kill();
            else child.WaitForExit();
            var lines = child.Lines;
            var seen = child.StepsSeen;
            log.AppendLine($"run {runs}, child {(last ? "last" : $"after {kills} kills")}: {plan}; {(reached ? "killed" : $"exited {child.ExitCode}")}; steps {(seen.Count > 0 ? $"{seen[0]}..{seen[^1]}" : "none")}, last line '{(lines.Count > 0 ? lines[^1].Line : "")}'");

            // It resumed from exactly the checkpoint latest.json named when it started.
            int? firstStepOfChild = seen.Count > 0 ? seen[0] : null;
            if (resumeAt is int r && firstStepOfChild is int f) Assert.AreEqual(r + 1, f, Why($"the restarted run resumes after step {r}, the checkpoint latest.json names"));
            if (resumeAt is null && firstStepOfChild is int f0) Assert.AreEqual(1, f0, Why("a fresh folder starts at step 1"));
            if (resumeAt == Steps) Assert.IsEmpty(seen, Why("a finished run resumes at its end: no step runs"));

            if (!reached)
            {
                Assert.AreEqual(0, child.ExitCode, Why("the run ends without error: " + child.Stderr));
                Assert.AreEqual("DONE", lines[^1].Line, Why("the host's last line"));
                CollectionAssert.AreEqual(expected, File.ReadAllBytes(output), Why($"run {runs} ends on the uninterrupted run's model bytes"));
                AssertPublishedCheckpointsAreTheReferences(folder, capture, Why);
                finished++;
                if (last) break;
                NewRun();   // a run that ended before its kill: the next kills go to a fresh one
                continue;
            }

            kills++;
            if (lines.Count > 0 && lines[^1].Line.StartsWith("WRITING ", StringComparison.Ordinal) && Directory.GetDirectories(folder, ".tmp-*").Length > 0)
                killedInsideAWrite++;
            int? latest = AssertPublishedCheckpointsAreTheReferences(folder, capture, Why);
            // Never an older checkpoint than the last one this child finished (a step after it was reported), never a newer one than its last step.
            int confirmed = seen.Where(s => s % Every == 0 && seen.Any(t => t > s)).DefaultIfEmpty(resumeAt ?? 0).Max();
            Assert.IsGreaterThanOrEqualTo(confirmed, latest ?? 0, Why($"latest.json names the newest finished checkpoint (step {confirmed} or later)"));
            Assert.IsLessThanOrEqualTo(seen.Count > 0 ? seen[^1] : resumeAt ?? 0, latest ?? 0, Why("latest.json names no step the run did not reach"));
            resumeAt = latest;
        }
        Console.WriteLine(log);
        Console.WriteLine($"{kills} kills ({killedInsideAWrite} inside a checkpoint write, a half-written one left behind), {runs} runs, {finished} finished, in {total.Elapsed.TotalSeconds:F0} s");
        Assert.IsGreaterThanOrEqualTo(3, killedInsideAWrite, Why("some kills landed inside a checkpoint write and left a half-written checkpoint behind"));
        Directory.Delete(root, recursive: true);
    }

    /// <summary>Checks that every published checkpoint in <paramref name="folder"/> is, file for file and byte for byte, the
    /// one the uninterrupted run wrote at that step, and that latest.json (when there is one) names one of them; returns
    /// the step it names, or null when no checkpoint was published yet.</summary>
    private static int? AssertPublishedCheckpointsAreTheReferences(string folder, string capture, Func<string, string> why)
    {
        if (!Directory.Exists(folder)) return null;
        foreach (var published in Directory.GetDirectories(folder, "step-*"))
        {
            string name = Path.GetFileName(published);
            string reference = Path.Combine(capture, name);
            Assert.IsTrue(Directory.Exists(reference), why($"'{name}' is a step the reference run checkpointed"));
            var files = Directory.GetFiles(published).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            CollectionAssert.AreEqual(Directory.GetFiles(reference).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList(), files, why($"'{name}' holds every file of a checkpoint"));
            foreach (var file in files)
                CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(reference, file!)), File.ReadAllBytes(Path.Combine(published, file!)), why($"'{name}/{file}' is whole and the uninterrupted run's"));
        }
        string latest = Path.Combine(folder, "latest.json");
        if (!File.Exists(latest)) return null;
        using var doc = JsonDocument.Parse(File.ReadAllText(latest));
        string named = doc.RootElement.GetProperty("checkpoint").GetString()!;
        Assert.IsTrue(Directory.Exists(Path.Combine(folder, named)), why($"latest.json names '{named}', which is published"));
        return int.Parse(named["step-".Length..]);
    }
}
