Write-Progress -Activity 'exoauth {title}' -Completed
$c = $script:Counts
Write-Host ('exoauth {title}: {0} applied, {1} unchanged, {2} skipped, {3} failed, {4} done by an earlier run; log: {5}' -f $c['applied'], $c['unchanged'], $c['skipped'], $c['failed'], $c['resumed'], $script:LogPath)
if ($c['failed'] -gt 0) {
    Write-Host ('Run the script again to retry what failed, or resume from the log: -ResumeFrom ''{0}''' -f $script:LogPath)
    exit 1
}
exit 0
