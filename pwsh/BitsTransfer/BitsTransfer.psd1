@{
    RootModule           = 'BitsTransfer.psm1'
    ModuleVersion        = '0.1.0'
    # Our own identity: this module is not Microsoft's and must not claim its GUID.
    GUID                 = '85e9022d-bc91-4fc0-96c4-131c8e47fca3'
    Author               = 'the bits authors'
    CompanyName          = 'the bits authors'
    Copyright            = '(c) the bits authors'
    Description          = 'The BitsTransfer cmdlets for Linux and macOS: background transfers through the bits service, driven by the bitsjob command line.'
    PowerShellVersion    = '7.2'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('BitsTransfer.Format.ps1xml')
    FunctionsToExport    = @(
        'Add-BitsFile'
        'Complete-BitsTransfer'
        'Get-BitsTransfer'
        'Remove-BitsTransfer'
        'Resume-BitsTransfer'
        'Set-BitsTransfer'
        'Start-BitsTransfer'
        'Suspend-BitsTransfer'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('BITS', 'BitsTransfer', 'Download', 'Upload', 'Linux', 'MacOS')
        }
    }
}
