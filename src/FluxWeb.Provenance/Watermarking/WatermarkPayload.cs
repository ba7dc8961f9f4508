using System.Security.Cryptography;
using System.Text;

namespace FluxWeb.Provenance.Watermarking;

/// <summary>
/// FluxWeb's 64-bit watermark payload (ADR 0002): version (4 bits) | installation tag (16) | image serial (28) |
/// CRC-16/CCITT-FALSE over the first 48 bits (16), most significant bit first. The CRC and version keep random or
/// flat images from reading as marked; the tag says which installation marked it; the serial leads to the job.
/// </summary>
public readonly record struct WatermarkPayload(int Version, ushort InstallationTag, uint Serial)
{
    public const int BitCount = 64;
    public const int CurrentVersion = 1;
    public const uint MaxSerial = (1u << 28) - 1;

    public static WatermarkPayload Create(ushort installationTag, long serial) =>
        new(CurrentVersion, installationTag, (uint)(serial & MaxSerial));

    /// <summary>First 16 bits of SHA-256 of the installation id.</summary>
    public static ushort TagFor(string installationId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(installationId));
        return (ushort)((hash[0] << 8) | hash[1]);
    }

    public bool[] ToBits()
    {
        var head = ((ulong)(Version & 0xF) << 44) | ((ulong)InstallationTag << 28) | (Serial & MaxSerial);
        var value = (head << 16) | Crc16(head);
        var bits = new bool[BitCount];
        for (var i = 0; i < BitCount; i++)
        {
            bits[i] = ((value >> (BitCount - 1 - i)) & 1) == 1;
        }

        return bits;
    }

    /// <summary>Null unless the bits carry a known version and a matching checksum.</summary>
    public static WatermarkPayload? TryParse(IReadOnlyList<bool> bits)
    {
        if (bits.Count != BitCount)
        {
            return null;
        }

        ulong value = 0;
        foreach (var bit in bits)
        {
            value = (value << 1) | (bit ? 1UL : 0UL);
        }

        var head = value >> 16;
        if ((ushort)value != Crc16(head))
        {
            return null;
        }

        var version = (int)(head >> 44);
        return version == CurrentVersion
            ? new WatermarkPayload(version, (ushort)(head >> 28), (uint)(head & MaxSerial))
            : null;
    }

    private static ushort Crc16(ulong head)
    {
        ushort crc = 0xFFFF;
        for (var i = 5; i >= 0; i--)
        {
            crc ^= (ushort)(((head >> (8 * i)) & 0xFF) << 8);
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc;
    }
}
