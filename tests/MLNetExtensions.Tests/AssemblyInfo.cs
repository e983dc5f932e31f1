// TorchSharp state (seed, threads) is process-wide, and the CI machine has two cores: run tests one at a time.
[assembly: DoNotParallelize]
