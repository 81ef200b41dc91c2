// The public face of Octet: everything a library user needs, from one import.
@_exported import OctetCore
@_exported import OctetImage
@_exported import OctetONNX
@_exported import OctetQuantization
@_exported import OctetReference
@_exported import OctetRuntime
@_exported import OctetBuilder
@_exported import OctetCPU
@_exported import OctetCUDA
