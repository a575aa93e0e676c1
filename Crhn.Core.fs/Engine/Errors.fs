namespace Crhn

open System

/// A data file that cannot be read: wrong format, truncated, or inconsistent.
type DataFormatException(message: string) =
    inherit Exception(message)

/// A model file that cannot be read: not a model, another version, truncated, or modified.
type ModelFormatException(message: string) =
    inherit Exception(message)

/// Raised when a native provider was asked for by name and cannot be loaded; the message holds
/// the trace of every path tried.
type ProviderUnavailableException(message: string) =
    inherit Exception(message)
