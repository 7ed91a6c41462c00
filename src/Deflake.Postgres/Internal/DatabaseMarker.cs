using System.Text.Json;
using System.Text.Json.Serialization;

namespace Deflake.Postgres.Internal;

/// <summary>
/// What Deflake writes into <c>COMMENT ON DATABASE</c> of every database it creates: proof that it is Deflake's,
/// who owns it, and whether it is kept. A database without a parseable marker is never touched.
/// </summary>
internal sealed record DatabaseMarker
{
    /// <summary>The marker's magic key and format version.</summary>
    public const int CurrentFormat = 1;

    [JsonPropertyName("deflake")]
    public int Format { get; init; } = CurrentFormat;

    /// <summary><c>clone</c>, <c>build</c>, <c>template</c> or <c>registry</c>.</summary>
    [JsonPropertyName("kind")]
    public string Kind { get; init; } = "";

    /// <summary>Owner's <see cref="Coordination.ProcessIdentity.Token"/>; null once kept or for a finished template.</summary>
    [JsonPropertyName("owner")]
    public string? Owner { get; init; }

    [JsonPropertyName("pid")]
    public int? ProcessId { get; init; }

    [JsonPropertyName("machine")]
    public string? Machine { get; init; }

    [JsonPropertyName("created")]
    public DateTimeOffset Created { get; init; }

    [JsonPropertyName("kept")]
    public bool Kept { get; init; }

    [JsonPropertyName("keptAt")]
    public DateTimeOffset? KeptAt { get; init; }

    [JsonPropertyName("fingerprint")]
    public string? Fingerprint { get; init; }

    /// <summary>Templates only: the last time a pool used it (refreshed at most hourly).</summary>
    [JsonPropertyName("lastUsed")]
    public DateTimeOffset? LastUsed { get; init; }

    /// <summary>
    /// Templates only: the lineage the pool gave (<see cref="TemplateRequest.Lineage"/>); a newer template of the same
    /// lineage supersedes this one. Absent on templates of older Deflake builds, which only the age rule removes.
    /// </summary>
    [JsonPropertyName("lineage")]
    public string? Lineage { get; init; }

    /// <summary>
    /// Templates only: the keys identities chaos could not cover, recorded at the build, since a finished template takes
    /// no connections to look again. Absent when every key is covered or identities is off.
    /// </summary>
    [JsonPropertyName("notCovered")]
    public IReadOnlyList<NotCoveredKey>? NotCovered { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, MarkerJson.Default.DatabaseMarker);

    /// <summary>Parses a database comment; null when it is not a Deflake marker.</summary>
    public static DatabaseMarker? TryParse(string? comment)
    {
        if (string.IsNullOrWhiteSpace(comment) || !comment.StartsWith("{\"deflake\":", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var marker = JsonSerializer.Deserialize(comment, MarkerJson.Default.DatabaseMarker);
            return marker is { Format: CurrentFormat } && marker.Kind is "clone" or "build" or "template" or "registry" ? marker : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DatabaseMarker))]
internal sealed partial class MarkerJson : JsonSerializerContext;
