<#
.SYNOPSIS
    Exports what exoauth needs to audit POP and IMAP legacy authentication on
    Exchange Server 2019 / Exchange Server SE.

.DESCRIPTION
    Run in the Exchange Management Shell (or a remote session to an Exchange
    server). Writes one UTF-8 CSV file per cmdlet into OutputPath, in the layout
    that `exoauth audit --environment onprem` reads (DESIGN.md section 3):

        AuthenticationPolicy.csv  Get-AuthenticationPolicy (every BlockLegacyAuth* and BlockModernAuth* switch)
        OrganizationConfig.csv    Get-OrganizationConfig
        CasMailbox.csv            Get-CASMailbox -ResultSize Unlimited
        User.csv                  Get-User -ResultSize Unlimited
        manifest.json             organization, time, Exchange version, row count per file

    On premises no SmtpClientAuthenticationDisabled setting exists (SMTP AUTH is
    governed by receive connectors), so no TransportConfig.csv is written, and
    authentication policies carry BlockLegacyAuthPop / BlockLegacyAuthImap
    (True blocks) instead of Exchange Online's AllowBasicAuth* switches.

    Each file holds exactly the columns exoauth reads, listed once in $Columns
    below; exoauth's test suite checks that list against the parser's. The
    script stops with a message naming the step that failed; manifest.json is
    written last.

.PARAMETER OutputPath
    The folder to write. Created if missing. Default: .\exoauth-export-<time>.

.EXAMPLE
    .\Export-ExoAuthInventory.OnPrem.ps1 -OutputPath .\export
    exoauth audit .\export --environment onprem

.NOTES
    Authentication policies need Exchange Server 2019 CU2 or later; on older
    servers AuthenticationPolicy.csv holds the header only.
#>
#Requires -Version 5.1
[CmdletBinding()]
param(
    [Parameter()]
    [string] $OutputPath = (Join-Path -Path (Get-Location) -ChildPath ('exoauth-export-' + (Get-Date -Format 'yyyyMMdd-HHmmss')))
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# The properties selected for each file: exactly the columns exoauth reads
# (exoauth::model::columns::Cmdlet::columns, environment onprem). Keep this the
# only list; tests/scripts.rs in the exoauth repository checks it.
$Columns = [ordered]@{
    AuthenticationPolicy = @('Name', 'Identity', 'BlockLegacyAuthPop', 'BlockLegacyAuthImap', 'Guid', 'DistinguishedName', 'BlockLegacyAuthActiveSync', 'BlockLegacyAuthAutodiscover', 'BlockLegacyAuthMapi', 'BlockLegacyAuthOfflineAddressBook', 'BlockLegacyAuthRpc', 'BlockLegacyAuthWebServices', 'BlockModernAuthActiveSync', 'BlockModernAuthAutodiscover', 'BlockModernAuthImap', 'BlockModernAuthMapi', 'BlockModernAuthOfflineAddressBook', 'BlockModernAuthPop', 'BlockModernAuthRpc', 'BlockModernAuthWebServices')
    OrganizationConfig   = @('DefaultAuthenticationPolicy')
    CasMailbox           = @('Guid', 'ExternalDirectoryObjectId', 'PrimarySmtpAddress', 'Identity', 'PopEnabled', 'ImapEnabled', 'Name', 'DisplayName')
    User                 = @('Guid', 'ExternalDirectoryObjectId', 'UserPrincipalName', 'AuthenticationPolicy', 'RecipientTypeDetails', 'WindowsEmailAddress', 'Identity', 'Name', 'DisplayName', 'AccountDisabled')
}

$Activity = 'Exporting the exoauth inventory'
$Step = 'starting'
$RowCounts = [ordered]@{}

function Write-Step {
    param([string] $Status, [int] $Percent)
    $script:Step = $Status
    Write-Progress -Activity $Activity -Status $Status -PercentComplete $Percent
    Write-Verbose -Message $Status
}

function Export-ExoAuthCsv {
    # Streams objects from the pipeline into <Name>.csv with exactly $Columns[$Name],
    # so a large tenant's mailboxes are never all held in memory. Writes the header
    # alone when there are none (Export-Csv writes nothing at all for no input).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(ValueFromPipeline)] [object] $InputObject
    )
    begin {
        $path = Join-Path -Path $OutputPath -ChildPath ($Name + '.csv')
        $count = 0
        $writer = { Select-Object -Property $Columns[$Name] | Export-Csv -LiteralPath $path -NoTypeInformation -Encoding UTF8 }.GetSteppablePipeline()
        $writer.Begin($true)
    }
    process {
        if ($null -ne $InputObject) {
            $count++
            $writer.Process($InputObject)
        }
    }
    end {
        $writer.End()
        if ($count -eq 0) {
            $header = '"' + ($Columns[$Name] -join '","') + '"'
            Set-Content -LiteralPath $path -Value $header -Encoding UTF8
        }
        $script:RowCounts[$Name + '.csv'] = $count
    }
}

try {
    Write-Step -Status 'Checking for the Exchange Management Shell' -Percent 0
    if (-not (Get-Command -Name Get-CASMailbox -ErrorAction SilentlyContinue)) {
        throw 'Get-CASMailbox is not available: run this script in the Exchange Management Shell, or import a remote session to an Exchange server first'
    }

    Write-Step -Status "Creating $OutputPath" -Percent 5
    New-Item -Path $OutputPath -ItemType Directory -Force | Out-Null

    Write-Step -Status 'Get-AuthenticationPolicy' -Percent 10
    if (Get-Command -Name Get-AuthenticationPolicy -ErrorAction SilentlyContinue) {
        Get-AuthenticationPolicy | Export-ExoAuthCsv -Name AuthenticationPolicy
    }
    else {
        Write-Warning -Message 'Get-AuthenticationPolicy is not available (Exchange Server 2019 CU2 or later has it); AuthenticationPolicy.csv holds the header only'
        Export-ExoAuthCsv -Name AuthenticationPolicy
    }

    Write-Step -Status 'Get-OrganizationConfig' -Percent 15
    $org = Get-OrganizationConfig
    $org | Export-ExoAuthCsv -Name OrganizationConfig

    Write-Step -Status 'Get-CASMailbox -ResultSize Unlimited (this takes a while in a large organization)' -Percent 20
    Get-CASMailbox -ResultSize Unlimited | Export-ExoAuthCsv -Name CasMailbox

    Write-Step -Status 'Get-User -ResultSize Unlimited (this takes a while in a large organization)' -Percent 55
    Get-User -ResultSize Unlimited | Export-ExoAuthCsv -Name User

    Write-Step -Status 'Writing manifest.json' -Percent 95
    $version = 'unknown'
    if (Get-Command -Name Get-ExchangeServer -ErrorAction SilentlyContinue) {
        $server = Get-ExchangeServer | Select-Object -First 1
        if ($server) { $version = [string]$server.AdminDisplayVersion }
    }
    $manifest = [ordered]@{
        tool          = 'Export-ExoAuthInventory.OnPrem.ps1'
        environment   = 'onprem'
        tenant        = [string]$org.Name
        time          = (Get-Date).ToUniversalTime().ToString('o')
        module        = 'Exchange Management Shell'
        moduleVersion = $version
        rows          = $RowCounts
    }
    $manifestPath = Join-Path -Path $OutputPath -ChildPath 'manifest.json'
    Set-Content -LiteralPath $manifestPath -Value (ConvertTo-Json -InputObject $manifest -Depth 5) -Encoding UTF8
    Write-Progress -Activity $Activity -Completed
    Write-Host "exoauth inventory written to $OutputPath; next: exoauth audit `"$OutputPath`" --environment onprem"
}
catch {
    Write-Progress -Activity $Activity -Completed
    throw "Export-ExoAuthInventory.OnPrem failed while '$Step': $($_.Exception.Message)"
}
