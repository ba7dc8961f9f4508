using System.Runtime.Versioning;

// Debian's Chromium, setpriv and Unix file modes: these tests run on Linux, like the image.
[assembly: SupportedOSPlatform("linux")]
